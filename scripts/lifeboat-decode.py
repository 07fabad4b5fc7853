#!/usr/bin/env python3
"""Independent decoder for Lifeboat archive format version 1.

Written from docs/format.md alone (no Lifeboat source was read), so that the document is proven complete and
Lifeboat's own reader has a second implementation to be checked against. It streams: the input is read record
by record and memory stays bounded by one chunk (at most 16 MiB + 16 bytes), whatever the archive size.

Usage:
    lifeboat-decode.py --key-file K [--key-file K2 ...] [--input IN|-] [--output OUT|-]
    lifeboat-decode.py --passphrase-env NAME            [--input IN|-] [--output OUT|-]
    lifeboat-decode.py --identity-file I [--identity-file I2 ...] [--input IN|-] [--output OUT|-]

The input and output default to stdin and stdout. With --output FILE the plaintext goes to a temporary file in
the same directory, which is renamed into place only after the final chunk authenticated and the input ended,
and is deleted on any error. With stdout, only authenticated chunks are written, but a failure can leave a
prefix of the plaintext behind: trust the output only when the exit status is 0.

Every check of format.md is made, in the document's order; each failure ends the run with one line on stderr
naming the failing check, and an exit status:
    0  ok            64 usage          65 authentication or format failure
    74 I/O error     78 key-file or passphrase configuration problem
Secrets (key bytes, the passphrase, derived keys) are never printed. Key ids are printed: they are not secret.

Requires the `cryptography` package (AES-256-GCM, HKDF-SHA256, scrypt, X25519); HMAC-SHA256 and zlib are from the stdlib.
"""

import argparse
import hashlib
import hmac
import os
import stat
import sys
import tempfile
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

# Exit statuses (sysexits.h), the same numbers as the Lifeboat CLI.
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_IOERR = 74
EX_CONFIG = 78

# --- Format constants (format.md) -------------------------------------------------------------------------------

MAGIC = b"LIFEBOAT"
VERSION = 0x01
CIPHER_AES_256_GCM = 0x01
KDF_KEY_FILE = 0x01
KDF_PASSPHRASE = 0x02
KDF_RECIPIENTS = 0x03
STANZA_LENGTH = 88            # §2.1: recipient id 8, ephemeral public key 32, wrapped file key 48
MAX_RECIPIENTS = 64
IDENTITY_FILE_PREFIX = "lifeboat-identity-1:"
RECIPIENT_ID_PREFIX = b"lifeboat-v1 recipient id"
WRAP_KEY_INFO = b"lifeboat-v1 x25519 wrap"
HEADER_LENGTH = 97            # §2: offsets 0 ... 96 (format.md's opening diagram says 105; the §2 table adds up to 97)
HEADER_MAC_OFFSET = 65        # the MAC covers bytes 0 ... 64
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 16777216
RECORD_HEADER_LENGTH = 21
TAG_LENGTH = 16               # AES-GCM tag, part of the body length L
FLAG_FINAL = 0x01
FLAG_DEFLATED = 0x02
KEY_LENGTH = 32
KEY_FILE_PREFIX = "lifeboat-key-1:"
KEY_ID_MESSAGE = b"lifeboat-v1 key id"
PAYLOAD_KEY_INFO = b"lifeboat-v1 payload key"
HEADER_KEY_INFO = b"lifeboat-v1 header key"


class DecodeFailure(Exception):
    """A failure that ends the run: the exit status and the one-line message for stderr."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def fail(status, message):
    raise DecodeFailure(status, message)


# --- Keys (§1) ---------------------------------------------------------------------------------------------------

def key_id(master_key):
    """First 8 bytes of HMAC-SHA256(master key, "lifeboat-v1 key id")."""
    return hmac.new(master_key, KEY_ID_MESSAGE, hashlib.sha256).digest()[:8]


def load_key_file(path, prefix=KEY_FILE_PREFIX):
    """Reads a key file (KDF id 1; or with `prefix` an identity file, §1.1) and returns its 32 bytes; exits 78 on
    any problem with the file."""
    KEY_FILE_PREFIX = prefix  # noqa: N806 (the messages below name the prefix of the kind of file read)
    try:
        info = os.stat(path)
    except OSError as error:
        fail(EX_CONFIG, f"key file {path}: cannot read it ({error.strerror})")
    if not stat.S_ISREG(info.st_mode):
        fail(EX_CONFIG, f"key file {path}: not a regular file")
    # format.md: Lifeboat refuses a key file that group or others may read or write.
    if info.st_mode & 0o066:
        fail(EX_CONFIG, f"key file {path}: group or others may read or write it "
                        f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(64 * 1024 + 1)
    except OSError as error:
        fail(EX_CONFIG, f"key file {path}: cannot read it ({error.strerror})")
    if len(raw) > 64 * 1024:
        fail(EX_CONFIG, f"key file {path}: larger than 64 KiB, not a Lifeboat key file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        fail(EX_CONFIG, f"key file {path}: not UTF-8 text, not a Lifeboat key file")
    # Lines starting with '#' and blank lines are ignored; exactly one other line must remain. Surrounding
    # whitespace (including a CR of CRLF line endings) is ignored on every line: the document does not say.
    lines = [line.strip() for line in text.split("\n")]
    remaining = [line for line in lines if line and not line.startswith("#")]
    if len(remaining) != 1:
        fail(EX_CONFIG, f"key file {path}: expected exactly one '{KEY_FILE_PREFIX}' line besides comments "
                        f"and blank lines, found {len(remaining)} lines")
    line = remaining[0]
    if not line.startswith(KEY_FILE_PREFIX):
        fail(EX_CONFIG, f"key file {path}: the key line does not start with '{KEY_FILE_PREFIX}'")
    digits = line[len(KEY_FILE_PREFIX):]
    if len(digits) != 2 * KEY_LENGTH or any(c not in "0123456789abcdefABCDEF" for c in digits):
        fail(EX_CONFIG, f"key file {path}: '{KEY_FILE_PREFIX}' must be followed by exactly 64 hex digits")
    return bytes.fromhex(digits)


def load_passphrase(name):
    """Reads the passphrase from environment variable `name` as UTF-8 bytes; exits 78 when unusable."""
    value = os.environb.get(os.fsencode(name))
    if value is None:
        fail(EX_CONFIG, f"passphrase: environment variable {name} is not set")
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        fail(EX_CONFIG, f"passphrase: environment variable {name} is not valid UTF-8")
    return value


def recipient_id(public_key):
    """§1.1: the first 8 bytes of SHA-256("lifeboat-v1 recipient id" || public key)."""
    return hashlib.sha256(RECIPIENT_ID_PREFIX + public_key).digest()[:8]


def load_identity_file(path):
    """Reads an identity file (§1.1); returns (private key object, public key bytes)."""
    private_bytes = load_key_file(path, IDENTITY_FILE_PREFIX)
    private_key = X25519PrivateKey.from_private_bytes(private_bytes)
    public_bytes = private_key.public_key().public_bytes_raw()
    return private_key, public_bytes


def hkdf_sha256(master_key, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=salt, info=info).derive(master_key)


# --- Input ---------------------------------------------------------------------------------------------------------

class Input:
    """Reads the archive incrementally and counts bytes, so errors can give offsets."""

    def __init__(self, stream):
        self.stream = stream
        self.offset = 0

    def read(self, count):
        """Returns exactly `count` bytes, or fewer only when the input ends."""
        parts = []
        wanted = count
        while wanted > 0:
            try:
                part = self.stream.read(wanted)
            except OSError as error:
                fail(EX_IOERR, f"cannot read the input at byte {self.offset}: {error.strerror or error}")
            if not part:
                break
            parts.append(part)
            wanted -= len(part)
            self.offset += len(part)
        return b"".join(parts)


# --- Header (§2) ---------------------------------------------------------------------------------------------------

class Header:
    """The parsed, not yet authenticated, 97-byte header."""

    def __init__(self, raw):
        self.raw = raw
        self.version = raw[8]
        self.cipher = raw[9]
        self.kdf = raw[10]
        self.compression = raw[11]
        self.chunk_size = int.from_bytes(raw[12:16], "big")
        self.key_id = raw[16:24]
        self.salt = raw[24:56]
        self.archive_tag = raw[24:32]
        self.log2n = raw[56]
        self.scrypt_r = int.from_bytes(raw[57:61], "big")
        self.scrypt_p = int.from_bytes(raw[61:65], "big")
        self.mac = raw[65:97]
        self.stanzas = b""    # §2.1, read after the fixed header for key derivation 03


def read_header(source):
    """Header checks 1 and 2, made on as many bytes as are present, then the truncation check."""
    start = source.read(len(MAGIC))
    # Check 1: the magic, compared on the bytes present (a short input that matches so far is truncated).
    if start != MAGIC[:len(start)] or not start:
        if not start:
            fail(EX_DATAERR, "truncated: the input is empty (a Lifeboat archive starts with a 97-byte header)")
        fail(EX_DATAERR, "not a Lifeboat archive: the input does not start with the magic 'LIFEBOAT'")
    if len(start) < len(MAGIC):
        fail(EX_DATAERR, f"truncated: the input ends inside the header, after {len(start)} of "
                         f"{HEADER_LENGTH} bytes")
    version = source.read(1)
    # Check 2: the version, as soon as byte 8 is present.
    if version and version[0] != VERSION:
        fail(EX_DATAERR, f"unsupported format version {version[0]} (this decoder reads version {VERSION})")
    rest = source.read(HEADER_LENGTH - len(MAGIC) - 1)
    raw = start + version + rest
    if len(raw) < HEADER_LENGTH:
        fail(EX_DATAERR, f"truncated: the input ends inside the header, after {len(raw)} of "
                         f"{HEADER_LENGTH} bytes")
    return Header(raw)


def check_header_fields(header):
    """Header check 3: cipher, key derivation, compression, chunk size, scrypt fields."""
    if header.cipher != CIPHER_AES_256_GCM:
        fail(EX_DATAERR, f"malformed header: unknown cipher {header.cipher:02x} (only 01, AES-256-GCM, exists)")
    if header.kdf not in (KDF_KEY_FILE, KDF_PASSPHRASE, KDF_RECIPIENTS):
        fail(EX_DATAERR, f"malformed header: unknown key derivation {header.kdf:02x} "
                         "(01 key file, 02 passphrase, 03 recipients)")
    if header.compression not in (0x00, 0x01):
        fail(EX_DATAERR, f"malformed header: unknown compression byte {header.compression:02x} (00 or 01)")
    if not MIN_CHUNK_SIZE <= header.chunk_size <= MAX_CHUNK_SIZE:
        fail(EX_DATAERR, f"malformed header: chunk size {header.chunk_size} outside "
                         f"{MIN_CHUNK_SIZE} ... {MAX_CHUNK_SIZE}")
    scrypt_fields = (header.log2n, header.scrypt_r, header.scrypt_p)
    if header.kdf == KDF_KEY_FILE and scrypt_fields != (0, 0, 0):
        fail(EX_DATAERR, "malformed header: a key-file archive has nonzero scrypt parameters "
                         f"(log2N {header.log2n}, r {header.scrypt_r}, p {header.scrypt_p})")
    if header.kdf == KDF_RECIPIENTS and (header.log2n, header.scrypt_r) != (0, 0):
        fail(EX_DATAERR, "malformed header: a recipients archive has nonzero scrypt log2N or r")
    if header.kdf == KDF_RECIPIENTS and not 1 <= header.scrypt_p <= MAX_RECIPIENTS:
        fail(EX_DATAERR, f"malformed header: recipient count {header.scrypt_p} outside 1 ... {MAX_RECIPIENTS}")
    if header.kdf == KDF_PASSPHRASE and not (10 <= header.log2n <= 22 and 1 <= header.scrypt_r <= 32
                                             and 1 <= header.scrypt_p <= 16
                                             and 128 * header.scrypt_r * (1 << header.log2n) * header.scrypt_p
                                             <= 256 * 1024 * 1024
                                             # RFC 7914: N < 2^(128 * r / 8)
                                             and header.log2n < 16 * header.scrypt_r):
        fail(EX_DATAERR, f"malformed header: scrypt parameters log2N {header.log2n}, r {header.scrypt_r}, "
                         f"p {header.scrypt_p} outside 10<=log2N<=22, 1<=r<=32, 1<=p<=16, memory <= 256 MiB, "
                         "log2N < 16*r (RFC 7914)")


def read_stanzas(source, header):
    """§2.1: the recipient count's stanzas follow the fixed header; no recipient may appear twice."""
    wanted = header.scrypt_p * STANZA_LENGTH
    header.stanzas = source.read(wanted)
    if len(header.stanzas) < wanted:
        fail(EX_DATAERR, f"truncated: the input ends inside the recipient stanzas of the header, after "
                         f"{len(header.stanzas)} of {wanted} bytes")
    ids = [header.stanzas[i:i + 8] for i in range(0, wanted, STANZA_LENGTH)]
    if len(set(ids)) != len(ids):
        fail(EX_DATAERR, "malformed header: a recipient has two stanzas")


def unwrap_file_key(header, identities):
    """§2.1 check 4 for key derivation 03: the stanza of a given identity opens to the file key."""
    stanzas = {header.stanzas[i:i + 8]: header.stanzas[i:i + STANZA_LENGTH]
               for i in range(0, len(header.stanzas), STANZA_LENGTH)}
    if not identities:
        fail(EX_DATAERR, "wrong key: the archive is encrypted to X25519 recipients "
                         f"{', '.join(k.hex() for k in stanzas)}; pass --identity-file")
    for private_key, public_bytes in identities:
        rid = recipient_id(public_bytes)
        stanza = stanzas.get(rid)
        if stanza is None:
            continue
        ephemeral = stanza[8:40]
        try:
            shared = private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        except ValueError:  # an all-zero shared secret (low-order ephemeral key)
            fail(EX_DATAERR, f"recipient stanza for {rid.hex()} failed authentication (bad ephemeral key)")
        wrap_key = HKDF(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=ephemeral + public_bytes,
                        info=WRAP_KEY_INFO).derive(shared)
        try:
            file_key = AESGCM(wrap_key).decrypt(b"\x00" * 12, stanza[40:88], rid)
        except InvalidTag:
            fail(EX_DATAERR, f"recipient stanza for {rid.hex()} failed authentication (tampered header)")
        if not hmac.compare_digest(key_id(file_key), header.key_id):
            fail(EX_DATAERR, "header authentication failed: the file key's id does not match the header's key id")
        return file_key
    given = ", ".join(recipient_id(public).hex() for _, public in identities)
    fail(EX_DATAERR, f"wrong key: the archive is encrypted to recipients {', '.join(k.hex() for k in stanzas)}, "
                     f"but the identities given are for {given}")


def select_master_key(header, key_files, passphrase, identities=()):
    """Header check 4: find the master key (key file by key id, scrypt of the passphrase, or a recipient stanza)."""
    archive_id = header.key_id.hex()
    if header.kdf == KDF_RECIPIENTS:
        return unwrap_file_key(header, identities)
    if header.kdf == KDF_KEY_FILE:
        if passphrase is not None:
            fail(EX_DATAERR, f"wrong key: the archive is encrypted with a key file (key id {archive_id}), "
                             "not a passphrase; pass --key-file")
        for _, master in key_files:
            # Key ids are not secret: a plain comparison is fine here.
            if key_id(master) == header.key_id:
                return master
        given = ", ".join(f"{key_id(master).hex()} ({path})" for path, master in key_files)
        fail(EX_DATAERR, f"wrong key: the archive was encrypted with key id {archive_id}, "
                         f"but the key file(s) given have key id(s) {given}; no decryption was attempted")
    if passphrase is None:
        fail(EX_DATAERR, "wrong key: the archive is encrypted with a passphrase, not a key file; "
                         "pass --passphrase-env")
    try:
        master = Scrypt(salt=header.salt, length=KEY_LENGTH, n=1 << header.log2n,
                        r=header.scrypt_r, p=header.scrypt_p).derive(passphrase)
    except MemoryError:
        fail(EX_IOERR, f"scrypt needs more memory than is available (log2N {header.log2n}, r {header.scrypt_r})")
    if not hmac.compare_digest(key_id(master), header.key_id):
        fail(EX_DATAERR, "wrong passphrase: the key derived from it does not match the archive's key id "
                         f"{archive_id}")
    return master


def authenticate_header(header, master):
    """Header check 5: the header MAC, compared in constant time. Returns the payload key."""
    header_key = hkdf_sha256(master, header.salt, HEADER_KEY_INFO)
    # The MAC covers bytes 0 ... 64 and, for key derivation 03, every stanza after the fixed header (§2.1).
    expected = hmac.new(header_key, header.raw[:HEADER_MAC_OFFSET] + header.stanzas, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, header.mac):
        fail(EX_DATAERR, "header authentication failed: the header MAC does not verify "
                         "(the header was corrupted or tampered with)")
    return hkdf_sha256(master, header.salt, PAYLOAD_KEY_INFO)


# --- Chunk records (§3) --------------------------------------------------------------------------------------------

def inflate_chunk(body, chunk_size, index):
    """Check 6: exactly one complete zlib stream, nothing after it, inflating to at most chunk size bytes."""
    inflater = zlib.decompressobj(wbits=15)   # zlib format (RFC 1950) with header and Adler-32 check
    try:
        plaintext = inflater.decompress(body, chunk_size + 1)
    except zlib.error as error:
        fail(EX_DATAERR, f"malformed chunk {index}: the deflated body is not a valid zlib stream ({error})")
    if len(plaintext) > chunk_size:
        fail(EX_DATAERR, f"malformed chunk {index}: the deflated body inflates to more than the chunk size "
                         f"{chunk_size}")
    if not inflater.eof:
        fail(EX_DATAERR, f"malformed chunk {index}: the deflated body is an incomplete zlib stream")
    if inflater.unused_data:
        fail(EX_DATAERR, f"malformed chunk {index}: {len(inflater.unused_data)} bytes follow the zlib stream")
    return plaintext


def decode_chunks(source, header, payload_key, sink):
    """Reads, checks and opens every chunk record in order, handing each plaintext to `sink`."""
    aead = AESGCM(payload_key)
    chunk_size = header.chunk_size
    index = 0
    while True:
        record_offset = source.offset
        record_header = source.read(RECORD_HEADER_LENGTH)
        if not record_header:
            fail(EX_DATAERR, f"truncated: the input ends at a record boundary (byte {record_offset}) after "
                             f"{index} chunk(s), before the final chunk")
        if len(record_header) < RECORD_HEADER_LENGTH:
            fail(EX_DATAERR, f"truncated: the input ends inside the record header of chunk {index} "
                             f"(byte {source.offset})")
        tag = record_header[0:8]
        found_index = int.from_bytes(record_header[8:16], "big")
        flags = record_header[16]
        body_length = int.from_bytes(record_header[17:21], "big")

        # 1. The archive tag.
        if tag != header.archive_tag:
            fail(EX_DATAERR, f"spliced chunk: the record at byte {record_offset} has archive tag {tag.hex()}, "
                             f"not this archive's {header.archive_tag.hex()} (a chunk from another archive)")
        # 2. The index.
        if found_index > index:
            fail(EX_DATAERR, f"reordered chunks: the record at byte {record_offset} is chunk {found_index}, "
                             f"expected chunk {index} (chunks are missing or out of order)")
        if found_index < index:
            fail(EX_DATAERR, f"duplicated chunk: the record at byte {record_offset} is chunk {found_index} "
                             f"again, expected chunk {index}")
        # 3. The flags.
        if flags & ~(FLAG_FINAL | FLAG_DEFLATED):
            fail(EX_DATAERR, f"malformed chunk {index}: unknown flag bits {flags & ~0x03:02x} set")
        final = bool(flags & FLAG_FINAL)
        deflated = bool(flags & FLAG_DEFLATED)
        if deflated and header.compression == 0x00:
            fail(EX_DATAERR, f"malformed chunk {index}: marked deflated, but the header's compression byte is 00")
        # 4. The body length.
        if not TAG_LENGTH <= body_length <= chunk_size + TAG_LENGTH:
            fail(EX_DATAERR, f"malformed chunk {index}: body length {body_length} outside "
                             f"{TAG_LENGTH} ... {chunk_size + TAG_LENGTH}")

        body = source.read(body_length)
        if len(body) < body_length:
            fail(EX_DATAERR, f"truncated: the input ends inside the body of chunk {index} "
                             f"({len(body)} of {body_length} bytes)")

        # 5. AES-256-GCM: the nonce binds the index and the final flag, the associated data the record header.
        nonce = b"\x00\x00\x00" + found_index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
        try:
            body_plaintext = aead.decrypt(nonce, body, record_header)
        except InvalidTag:
            fail(EX_DATAERR, f"chunk authentication failed: chunk {index} (record at byte {record_offset}) "
                             "does not open: corrupted or tampered with")
        # 6. Inflate when deflated.
        plaintext = inflate_chunk(body_plaintext, chunk_size, index) if deflated else body_plaintext
        # 7. The plaintext length.
        if not final and len(plaintext) != chunk_size:
            fail(EX_DATAERR, f"malformed chunk {index}: a non-final chunk has {len(plaintext)} plaintext bytes, "
                             f"not the chunk size {chunk_size}")
        if final and len(plaintext) == 0 and index != 0:
            fail(EX_DATAERR, f"malformed chunk {index}: an empty final chunk is allowed only as chunk 0")

        sink(plaintext)
        index += 1
        if final:
            break

    # After the final record the input must end.
    if source.read(1):
        fail(EX_DATAERR, f"trailing data: bytes follow the final chunk (from byte {source.offset - 1})")
    return index


# --- Output --------------------------------------------------------------------------------------------------------

class FileOutput:
    """A temporary file next to the destination, renamed into place by commit() and deleted by discard()."""

    def __init__(self, path):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        try:
            descriptor, self.temp_path = tempfile.mkstemp(
                prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=directory)
        except OSError as error:
            fail(EX_IOERR, f"cannot create a temporary file in {directory}: {error.strerror}")
        self.handle = os.fdopen(descriptor, "wb")

    def write(self, data):
        try:
            self.handle.write(data)
        except OSError as error:
            fail(EX_IOERR, f"cannot write {self.temp_path}: {error.strerror}")

    def commit(self):
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temp_path, self.path)
        except OSError as error:
            fail(EX_IOERR, f"cannot write {self.path}: {error.strerror}")
        self.temp_path = None
        try:
            directory = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError:
            pass  # the rename happened; a directory fsync is best effort (some filesystems refuse it)

    def discard(self):
        if self.temp_path is None:
            return
        try:
            self.handle.close()
        except OSError:
            pass
        try:
            os.unlink(self.temp_path)
        except OSError:
            pass
        self.temp_path = None


class StreamOutput:
    """Standard output: each authenticated chunk is written as it is decoded."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data):
        try:
            self.stream.write(data)
        except OSError as error:
            fail(EX_IOERR, f"cannot write the output: {error.strerror or error}")

    def commit(self):
        try:
            self.stream.flush()
        except OSError as error:
            fail(EX_IOERR, f"cannot write the output: {error.strerror or error}")

    def discard(self):
        try:
            self.stream.flush()
        except OSError:
            pass


# --- Command line --------------------------------------------------------------------------------------------------

class UsageParser(argparse.ArgumentParser):
    """argparse, but usage errors exit 64 (EX_USAGE) instead of 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: usage error: {message}\n")


def parse_arguments(argv):
    parser = UsageParser(prog="lifeboat-decode.py",
                         description="Decrypt and verify a Lifeboat archive (format version 1).")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--key-file", action="append", metavar="PATH",
                        help="a Lifeboat key file (mode 0600); repeat to offer several keys")
    secret.add_argument("--passphrase-env", metavar="NAME",
                        help="name of the environment variable holding the passphrase")
    secret.add_argument("--identity-file", action="append", metavar="PATH",
                        help="a Lifeboat identity file (X25519 private key, mode 0600); repeatable")
    parser.add_argument("--input", default="-", metavar="IN", help="the archive (default: - for stdin)")
    parser.add_argument("--output", default="-", metavar="OUT",
                        help="where the plaintext goes (default: - for stdout)")
    return parser.parse_args(argv)


def run(arguments):
    key_files = [(path, load_key_file(path)) for path in arguments.key_file or []]
    passphrase = load_passphrase(arguments.passphrase_env) if arguments.passphrase_env is not None else None
    identities = [load_identity_file(path) for path in arguments.identity_file or []]

    if arguments.input == "-":
        input_stream = sys.stdin.buffer
    else:
        try:
            input_stream = open(arguments.input, "rb")
        except OSError as error:
            fail(EX_IOERR, f"cannot open the input {arguments.input}: {error.strerror}")
    output = StreamOutput(sys.stdout.buffer) if arguments.output == "-" else FileOutput(arguments.output)
    try:
        source = Input(input_stream)
        header = read_header(source)
        check_header_fields(header)
        if header.kdf == KDF_RECIPIENTS:
            read_stanzas(source, header)
        master = select_master_key(header, key_files, passphrase, identities)
        payload_key = authenticate_header(header, master)
        decode_chunks(source, header, payload_key, output.write)
        output.commit()
    finally:
        output.discard()
        if input_stream is not sys.stdin.buffer:
            input_stream.close()


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        run(arguments)
    except DecodeFailure as failure:
        sys.stderr.write(f"lifeboat-decode: {failure.message}\n")
        return failure.status
    except KeyboardInterrupt:
        sys.stderr.write("lifeboat-decode: interrupted\n")
        return 130
    return EX_OK


if __name__ == "__main__":
    sys.exit(main())
