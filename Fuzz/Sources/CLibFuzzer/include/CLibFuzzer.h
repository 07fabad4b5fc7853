// libFuzzer's driver entry point (compiler-rt FuzzerInterface.h), linked in by -sanitize=fuzzer.
#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
