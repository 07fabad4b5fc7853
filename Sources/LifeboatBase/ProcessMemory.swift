// ProcessMemory: the one malloc setting Lifeboat makes, for its streaming paths' flat memory use.

import CMalloc

public enum ProcessMemory {
    /// Allocations of this size or more are mapped on their own and returned to the kernel when freed.
    public static let mmapThreshold: Int32 = 256 * 1024

    /// Fixes glibc's mmap threshold at ``mmapThreshold``. Lifeboat streams gigabytes through transfer buffers of
    /// about 1 MiB (archive chunks, store writes, the snapshot upload). By default glibc raises its threshold each
    /// time such a mapped buffer is freed (up to 32 MiB), after which the buffers come from the heaps of whichever
    /// threads allocate them (the cooperative pool, NIO's event loops, the write-behind threads) and the freed ones
    /// stay resident there. Measured with scripts/bench.sh at 512 MiB (release): `lifeboat restore` peaked at
    /// 68-70 MiB RSS without the fixed threshold and 52-53 MiB with it; verify 50 -> 44 MiB (docs/performance.md).
    /// Setting the threshold explicitly also turns off glibc's dynamic adjustment. Call once, first thing in main.
    public static func configure() {
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
    }
}
