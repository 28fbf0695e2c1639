#pragma once
// Allocation counting for the "allocs/row" counters: replaces the global
// operator new/delete. Include it in exactly one source file of a benchmark
// executable (each bench/*_bench.cpp is its own executable).
//
// The replaced operator new pairs malloc with free by design; g++ 12 cannot
// see that.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <cstddef>
#include <cstdlib>
#include <new>

namespace salvo::bench {
/// Allocations since the program started; benchmarks run on one thread.
inline std::size_t allocation_count = 0;
}  // namespace salvo::bench

void* operator new(std::size_t n) {
    ++salvo::bench::allocation_count;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
