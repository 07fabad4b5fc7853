// libcrypto headers used by LifeboatArchive. OpenSSL 3 exposes everything needed as functions.
#ifndef LIFEBOAT_COPENSSL_SHIM_H
#define LIFEBOAT_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#endif
