// glibc's malloc tuning (mallopt), which the Glibc module does not export; used by LifeboatBase's ProcessMemory.
#include <malloc.h>
