// libFuzzer target: the XML reader for S3's response bodies (S3XML.parse: listings, errors, multipart results,
// bucket settings), which an S3-compatible server or anything between it and Lifeboat controls. A parsed document has
// a root name, and its depth is bounded. S3XML.swift in this folder is a symlink to Sources/LifeboatS3/S3XML.swift
// (linking LifeboatS3 would build AsyncHTTPClient with fuzzer instrumentation).

import FuzzSupport

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        [
            ("list", #"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>lifeboat/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>lifeboat/manifests/20261128T221500Z-7f3a.json</Key><LastModified>2026-11-28T22:15:03.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>1024</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"#),
            ("error", #"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b&#x1F6E5;</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>"#),
            ("multipart", #"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>"#),
            ("uploads", #"<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId><Initiated>2026-11-28T22:15:03Z</Initiated></Upload><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"#),
            ("lock", #"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>7</Days></DefaultRetention></Rule></ObjectLockConfiguration>"#),
            ("cdata", #"<a><!-- c --><b><![CDATA[<x>]]></b><c/><d e="f">t</d></a>"#),
        ].map { ($0.0, Array($0.1.utf8)) }
    }
    return 0
}

/// The depth of the deepest element.
func depth(_ element: S3XMLElement) -> Int {
    1 + (element.children.map(depth).max() ?? 0)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzS3XML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let root = try? S3XML.parse(fuzzBytes(data, size)) else { return 0 }
    fuzzInvariant(!root.name.isEmpty, "a parsed document has an empty root name")
    fuzzInvariant(depth(root) <= S3XML.maximumDepth, "a parsed document is deeper than the limit")
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_s3_xml_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzS3XML)
}
