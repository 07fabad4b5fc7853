// Test harness for the S3 store: starts moto's server (and optionally a fault-injecting HTTP proxy in front of it),
// each a Python script written to a temporary file that binds a port of the kernel's choice and reports it in a
// file, waits until it answers, and always kills the processes at the end. Also: deterministic test data and a counting transport.

import AsyncHTTPClient
import Foundation
import LifeboatArchive
import NIOCore
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatAgent
@testable import LifeboatRecovery
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatVault
@testable import LifeboatSchedule
@testable import LifeboatBase
import LifeboatTesting

#if canImport(Glibc)
import Glibc
#endif

/// Faults the proxy injects into UploadPart requests (`partNumber` is the S3 part number, counted per request).
struct S3ProxyFaults: Sendable {
    /// Answer UploadPart of this part number with `failStatus`, `failTimes` times.
    var failPart = 0
    var failStatus = 500
    var failTimes = 1
    /// Reset the connection (TCP RST after reading part of the body) on UploadPart of this part number, `resetTimes` times.
    var resetPart = 0
    var resetTimes = 0
}

/// What the proxy counted.
struct S3ProxyStats: Decodable, Sendable {
    var uploadParts: Int
    var injectedStatus: Int
    var resets: Int
}

/// A running moto server (and proxy); `endpoint` is what the store talks to (the proxy when there is one).
final class S3TestEnvironment: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable; the processes are only started in `start` and stopped in `stop`, and
    // the ports set in `start`, all from the one test task that owns the environment.
    private(set) var motoPort = 0
    private(set) var proxyPort: Int?
    private var processes: [Process] = []
    private let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-s3-env-\(UUID().uuidString)")
    let bucket: String
    let sleeper = S3SleepRecorder()
    let retryLog = S3RetryLog()
    private var stores: [S3Store] = []

    var endpoint: String { "http://127.0.0.1:\(proxyPort ?? motoPort)" }

    private init(bucket: String) {
        self.bucket = bucket
    }

    /// Starts moto (and the proxy), runs `body`, and kills the processes whatever happens.
    static func with<T: Sendable>(faults: S3ProxyFaults? = nil, _ body: (S3TestEnvironment) async throws -> T) async throws -> T {
        let env = S3TestEnvironment(bucket: "lifeboat-test-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try await env.start(faults: faults)
            let result = try await body(env)
            await env.stop()
            return result
        } catch {
            await env.stop()
            throw error
        }
    }

    /// Each server binds a port of the kernel's choice itself and writes it to a file: a port picked here and handed
    /// over could be given to another server of the parallel suite before the Python process binds it (then this
    /// environment's requests would go to another test's moto, which vanishes when that test ends).
    private func start(faults: S3ProxyFaults?) async throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        motoPort = try await launchServer("moto-server", Self.motoScript, [])
        if let faults {
            proxyPort = try await launchServer("proxy", Self.proxyScript, [
                "--upstream", String(motoPort),
                "--fail-part", String(faults.failPart), "--fail-status", String(faults.failStatus),
                "--fail-times", String(faults.failTimes), "--reset-part", String(faults.resetPart),
                "--reset-times", String(faults.resetTimes),
            ])
        }
        // The bucket is created directly on moto.
        let setup = try makeStore(direct: true, retry: .none)
        try await setup.client.createBucket(region: "us-east-1")
    }

    private func stop() async {
        for store in stores { try? await store.shutdown() }
        stores = []
        for process in processes where process.isRunning {
            // SIGKILL, not SIGTERM: the child inherits the test process's signal mask, in which SIGTERM is
            // blocked, so a terminate() would never be delivered.
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
        }
        processes = []
        try? FileManager.default.removeItem(at: scratch)
    }

    /// A store on this environment's bucket with dummy credentials and a recording (non-sleeping) retry wait.
    func makeStore(direct: Bool = false, prefix: String = "lifeboat/", partSize: Int = 5 * 1024 * 1024,
                   maxConcurrentParts: Int = 3, retry: S3RetryPolicy = S3RetryPolicy(maxAttempts: 4),
                   bucket: String? = nil, objectLock: S3ObjectLockSetting? = nil,
                   clock: @escaping @Sendable () -> Date = { Date() },
                   wrap: (any S3Transport) -> any S3Transport = { $0 }) throws -> S3Store {
        let config = S3Configuration(
            endpoint: direct ? "http://127.0.0.1:\(motoPort)" : endpoint, region: "us-east-1", bucket: bucket ?? self.bucket, prefix: prefix,
            addressing: .pathStyle,
            credentials: .explicit(S3Credentials(accessKeyID: "AKIAMOTOTESTKEY", secretAccessKey: "moto-test-secret")),
            partSize: partSize, maxConcurrentParts: maxConcurrentParts, retry: retry, objectLock: objectLock)
        let http = try S3HTTPTransport(configuration: config, credentials: S3Credentials(accessKeyID: "AKIAMOTOTESTKEY", secretAccessKey: "moto-test-secret"))
        let sleeper = self.sleeper
        let retryLog = self.retryLog
        let retrying = S3RetryingTransport(base: http, policy: retry, bucket: config.bucket, sleep: { try await sleeper.sleep($0) },
                                           jitter: { 0.5 }, onRetry: { event in retryLog.record(event) })
        let store = S3Store(configuration: config, transport: wrap(retrying), http: http, clock: clock)
        stores.append(store)
        return store
    }

    /// The proxy's counters.
    func proxyStats() async throws -> S3ProxyStats {
        guard let proxyPort else { throw S3TestHarnessError("no proxy in this environment") }
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(proxyPort)/__proxy__/stats"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 * 1024)
        return try JSONDecoder().decode(S3ProxyStats.self, from: Data(body.readableBytesView))
    }

    // MARK: - Processes

    /// Starts `arguments` with its standard error written to `log` (what a server that failed to start said).
    private static func launch(_ arguments: [String], log: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = (try? FileHandle(forWritingTo: log)) ?? FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Writes `script` (after the shared prelude) to `<name>.py`, starts it, and returns the port it reports once
    /// something answers there. (`name` must not be `moto`: the script's directory comes first on Python's path.)
    private func launchServer(_ name: String, _ script: String, _ arguments: [String]) async throws -> Int {
        let file = scratch.appendingPathComponent("\(name).py"), portFile = scratch.appendingPathComponent("\(name).port")
        let log = scratch.appendingPathComponent("\(name).log")
        try (Self.scriptPrelude + script).write(to: file, atomically: true, encoding: .utf8)
        let process = try Self.launch(["python3", file.path, "--port-file", portFile.path] + arguments, log: log)
        processes.append(process)
        let port = try await Self.waitForPort(in: portFile, of: process, name, log: log)
        try await Self.waitUntilAnswering(port: port)
        return port
    }

    /// Waits for the port a launched server writes (atomically) to `file` once it is bound.
    private static func waitForPort(in file: URL, of process: Process, _ name: String, log: URL) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: file, encoding: .utf8) {
                guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), (1...65535).contains(port) else {
                    throw S3TestHarnessError("\(name) wrote \"\(text)\" as its port")
                }
                return port
            }
            guard process.isRunning else {
                let said = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(5).joined(separator: "\n")
                throw S3TestHarnessError("\(name) exited with status \(process.terminationStatus) before it listened; is `moto[server]` installed (python3 -m pip install 'moto[server]')? It said: \(said)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw S3TestHarnessError("\(name) did not report its port within 60 s")
    }

    /// Polls until something answers HTTP on the port (moto needs a few seconds on a busy machine).
    private static func waitUntilAnswering(port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/__probe__")
            request.method = .HEAD
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)) {
                _ = try? await response.body.collect(upTo: 1024 * 1024)
                return
            }
            try await Task.sleep(for: .milliseconds(150))
        }
        throw S3TestHarnessError("nothing answered on 127.0.0.1:\(port) within 60 s; is `moto[server]` installed (python3 -m pip install 'moto[server]')?")
    }

    /// The fault-injecting proxy: forwards every request to moto unchanged (Host header included, so signatures
    /// stay valid) except the UploadPart requests it was told to fail or reset. `GET /__proxy__/stats` returns
    /// its counters.
    static let proxyScript = #"""
    import argparse, http.client, http.server, json, os, socket, struct, threading, time
    from urllib.parse import urlsplit, parse_qs

    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--upstream", type=int, required=True)
    p.add_argument("--fail-part", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=500)
    p.add_argument("--fail-times", type=int, default=1)
    p.add_argument("--reset-part", type=int, default=0)
    p.add_argument("--reset-times", type=int, default=0)
    args = p.parse_args()

    lock = threading.Lock()
    stats = {"uploadParts": 0, "injectedStatus": 0, "resets": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, body, content_type="application/xml"):
            self.send_response_only(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self):
            if self.path == "/__proxy__/stats":
                with lock:
                    body = json.dumps(stats).encode()
                return self.reply(200, body, "application/json")
            length = int(self.headers.get("Content-Length") or 0)
            query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
            part = None
            if self.command == "PUT" and "partNumber" in query and "uploadId" in query:
                part = int(query["partNumber"][0])
            action = None
            with lock:
                if part is not None:
                    stats["uploadParts"] += 1
                    if part == args.reset_part and stats["resets"] < args.reset_times:
                        stats["resets"] += 1
                        action = "reset"
                    elif part == args.fail_part and stats["injectedStatus"] < args.fail_times:
                        stats["injectedStatus"] += 1
                        action = "fail"
            if action == "reset":
                self.rfile.read(min(length, 256 * 1024))
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            body = self.rfile.read(length) if length else b""
            if action == "fail":
                return self.reply(args.fail_status, b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
                                  b'<Message>injected by the test proxy</Message><RequestId>PROXY</RequestId></Error>')
            upstream = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=120)
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
            response = upstream.getresponse()
            data = response.read()
            self.send_response_only(response.status)
            for name, value in response.getheaders():
                if name.lower() in ("transfer-encoding", "connection", "content-length"):
                    continue
                self.send_header(name, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", response.getheader("Content-Length") or "0")
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            upstream.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serve_reporting_port(server, args.port_file)
    """#

    /// moto's server as `python3 -m moto.server` runs it (the same application, threaded), bound to a port of the
    /// kernel's choice.
    static let motoScript = #"""
    import argparse, logging
    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    args = p.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request; errors still reach the log
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    os.environ["MOTO_PORT"] = str(server.server_address[1])
    serve_reporting_port(server, args.port_file)
    """#

    /// What both scripts begin with: `serve_reporting_port` writes the port the kernel gave the server to a file
    /// (atomically, so the test never reads half of it), then serves until the parent (the test process) goes away.
    static let scriptPrelude = #"""
    import os, threading, time

    _parent = os.getppid()

    def serve_reporting_port(server, port_file):
        def watch_parent():
            while True:
                if os.getppid() != _parent:
                    os._exit(0)
                time.sleep(1)
        threading.Thread(target=watch_parent, daemon=True).start()
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(port_file + ".tmp", port_file)
        server.serve_forever()

    """#
}

/// The retries a store's retrying transport reported.
final class S3RetryLog: Sendable {
    private let events = PThreadLocked<[S3RetryEvent]>([])
    func record(_ event: S3RetryEvent) { events.withLock { $0.append(event) } }
    var all: [S3RetryEvent] { events.withLock { $0 } }
}

struct S3TestHarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Counts requests per operation on their way to the inner transport.
final class S3CountingTransport: S3Transport {
    let base: any S3Transport
    private let counts = PThreadLocked<[String: Int]>([:])

    init(base: any S3Transport) { self.base = base }

    func count(_ operation: String) -> Int { counts.withLock { $0[operation] ?? 0 } }

    func send(_ request: S3Request) async throws -> S3Response {
        counts.withLock { $0[request.operation, default: 0] += 1 }
        return try await base.send(request)
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), cheap enough for tens of MiB in a debug build.
struct S3TestData {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var words = [UInt64](repeating: 0, count: (count + 7) / 8)
        for i in words.indices {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            words[i] = state &* 0x2545_F491_4F6C_DD1D
        }
        return words.withUnsafeBytes { Array($0.prefix(count)) }
    }
}

extension S3Store {
    /// Reads an object back in 1 MiB chunks, returning its size and SHA-256 (memory stays at one chunk).
    func sizeAndDigest(of name: String) async throws -> (Int, [UInt8]) {
        let reader = try await openForReading(name)
        var hasher = SHA256Digest()
        var size = 0
        while let chunk = try await reader.read(maxCount: 1024 * 1024) {
            hasher.update(chunk)
            size += chunk.count
        }
        await reader.close()
        return (size, hasher.finalize())
    }
}
