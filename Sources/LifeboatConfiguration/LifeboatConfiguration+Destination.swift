// Destinations in the configuration: a named local directory or S3-compatible bucket, each with its own
// retention policy (the planner's RetentionPolicy) and its own backup schedule.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

extension LifeboatConfiguration {
    /// One place backups are stored (`destinations[i]`, or the single `repository`).
    public struct Destination: Sendable, Equatable {
        /// The name of the destination made from `repository:` or the built-in default.
        public static let defaultName = "default"
        /// The storage types, as written in `type`.
        public static let types = ["local", "s3"]

        /// A unique name, used in `--destination`, listings and metrics (`name`).
        public var name: String
        /// Where and how the backups are stored (`type` and its keys).
        public var storage: Storage
        /// Which backups to keep after each backup (`retention`); nil keeps every backup.
        public var retention: RetentionPolicy?
        /// When the agent backs up to this destination (`schedule`); nil uses `agent.schedules.backup`.
        public var schedule: String?
        /// The one cluster this destination may hold backups of (`cluster`, a cluster name); nil accepts any
        /// cluster, each as its own series (a new one with a warning the first time).
        public var cluster: String?
        /// Which backups form one retention series (`group_by`: `cluster`, the default, or `none`).
        public var groupBy: RetentionGrouping

        public init(name: String, storage: Storage, retention: RetentionPolicy? = nil, schedule: String? = nil,
                    cluster: String? = nil, groupBy: RetentionGrouping = .cluster) {
            self.name = name
            self.storage = storage
            self.retention = retention
            self.schedule = schedule
            self.cluster = cluster
            self.groupBy = groupBy
        }

        /// `local` or `s3`.
        public var type: String {
            switch storage {
            case .local: return "local"
            case .s3: return "s3"
            }
        }
    }

    /// The storage behind a destination.
    public enum Storage: Sendable, Equatable {
        /// A directory on a local (or mounted) file system.
        case local(LocalStorage)
        /// An S3-compatible bucket.
        case s3(S3Storage)
    }

    /// A local directory repository (`type: local`).
    public struct LocalStorage: Sendable, Equatable {
        /// The repository directory (`path`), absolute.
        public var path: String

        public init(path: String) {
            self.path = path
        }
    }

    /// An S3-compatible bucket (`type: s3`).
    ///
    /// Credentials not given here come from the AWS environment variables (AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and, failing those, from `profile` in the shared credentials file.
    public struct S3Storage: Sendable, Equatable {
        /// The endpoint URL for MinIO, Ceph, R2 and the like (`endpoint`); nil means AWS for `region`.
        public var endpoint: String?
        /// The region signed into requests (`region`, default us-east-1).
        public var region: String
        /// The bucket (`bucket`).
        public var bucket: String
        /// A key prefix inside the bucket, without leading slash (`prefix`, default none).
        public var prefix: String
        /// Path-style addressing, `endpoint/bucket/key`, as MinIO needs (`path_style`, default false).
        public var pathStyle: Bool
        /// A PEM CA file for an endpoint with a private CA (`ca_cert`).
        public var caCert: String?
        /// Access key id (`access_key_id`, a secret reference).
        public var accessKeyID: SecretReference?
        /// Secret access key (`secret_access_key`, a secret reference).
        public var secretAccessKey: SecretReference?
        /// Session token for temporary credentials (`session_token`, a secret reference).
        public var sessionToken: SecretReference?
        /// Profile in the shared credentials file (`profile`).
        public var profile: String?
        /// Server-side encryption requested on upload (`sse`).
        public var sse: ServerSideEncryption?
        /// A lock object in the bucket not refreshed for this long is stale and may be taken over
        /// (`lock_stale_after`, default 15m; held locks are refreshed every fifth of it).
        public var lockStaleAfter: TimeInterval = StoreLockTiming.defaultStaleAfter
        /// Write every data object and manifest as an S3 Object Lock version (`object_lock: {mode, days}`): nobody,
        /// the agent included, can remove a backup for `days` days. The bucket needs versioning and Object Lock.
        public var objectLock: ObjectLock?

        public init(
            endpoint: String? = nil, region: String = "us-east-1", bucket: String, prefix: String = "",
            pathStyle: Bool = false, caCert: String? = nil, accessKeyID: SecretReference? = nil,
            secretAccessKey: SecretReference? = nil, sessionToken: SecretReference? = nil, profile: String? = nil,
            sse: ServerSideEncryption? = nil
        ) {
            self.endpoint = endpoint
            self.region = region
            self.bucket = bucket
            self.prefix = prefix
            self.pathStyle = pathStyle
            self.caCert = caCert
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
            self.profile = profile
            self.sse = sse
        }
    }

    /// S3 Object Lock on a destination (`object_lock`).
    public struct ObjectLock: Sendable, Equatable {
        /// `governance` or `compliance` (`mode`).
        public var mode: StoreObjectLock.Mode
        /// How long each object stays locked after it is written (`days`, 1 ... 36500).
        public var days: Int
        /// `days` was left out and taken from the destination's retention (``RetentionPolicy/longestKeepDays``).
        public var daysFromRetention: Bool

        public init(mode: StoreObjectLock.Mode, days: Int, daysFromRetention: Bool = false) {
            self.mode = mode
            self.days = days
            self.daysFromRetention = daysFromRetention
        }
    }

    /// S3 server-side encryption (`sse`).
    public struct ServerSideEncryption: Sendable, Equatable {
        /// The `x-amz-server-side-encryption` values.
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            /// S3-managed keys.
            case aes256 = "AES256"
            /// AWS KMS keys.
            case kms = "aws:kms"
        }

        /// The encryption (`type`: AES256 or aws:kms).
        public var type: Kind
        /// The KMS key for `aws:kms` (`kms_key_id`; default: the bucket's AWS-managed key).
        public var kmsKeyID: String?

        public init(type: Kind, kmsKeyID: String? = nil) {
            self.type = type
            self.kmsKeyID = kmsKeyID
        }
    }
}
