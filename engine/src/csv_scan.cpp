// Runtime dispatch for the CSV block scan: the AVX2 kernel is compiled with
// a target attribute and touches nothing but intrinsics, so the library
// still runs (with the SSE2 kernel) on a CPU without AVX2.

#include "csv_scan.hpp"

namespace salvo::engine::detail {
namespace {

using kernel = void (*)(const char*, std::size_t, char, std::uint64_t*) noexcept;

void masks_portable(const char* p, std::size_t blocks, char delimiter,
                    std::uint64_t* out) noexcept {
    const structural_masker mask(delimiter);
    for (std::size_t k = 0; k < blocks; ++k) out[k] = mask(p + 64 * k);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) void masks_avx2(const char* p, std::size_t blocks, char delimiter,
                                                std::uint64_t* out) noexcept {
    const __m256i d = _mm256_set1_epi8(delimiter);
    const __m256i q = _mm256_set1_epi8('"');
    const __m256i n = _mm256_set1_epi8('\n');
    for (std::size_t k = 0; k < blocks; ++k) {
        const char* b = p + 64 * k;
        __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
        __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
        __m256i ml =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(lo, d), _mm256_cmpeq_epi8(lo, q)),
                            _mm256_cmpeq_epi8(lo, n));
        __m256i mh =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(hi, d), _mm256_cmpeq_epi8(hi, q)),
                            _mm256_cmpeq_epi8(hi, n));
        out[k] = static_cast<std::uint32_t>(_mm256_movemask_epi8(ml)) |
                 (std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(mh))} << 32);
    }
}

kernel pick() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? masks_avx2 : masks_portable;
}
#else
kernel pick() noexcept {
    return masks_portable;
}
#endif

}  // namespace

void structural_masks(const char* p, std::size_t blocks, char delimiter,
                      std::uint64_t* out) noexcept {
    static const kernel k = pick();
    k(p, blocks, delimiter, out);
}

}  // namespace salvo::engine::detail
