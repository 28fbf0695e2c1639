#pragma once
// The vectorised part of the CSV reader: a 64-bit mask of the bytes in a
// 64-byte block that are the delimiter, a double quote or a line feed.
// AVX2 when the compiler targets it, SSE2 otherwise on x86-64, a plain loop
// elsewhere. The block may be read up to 64 bytes past the data's end (the
// chunk buffer's padding); callers mask off those bits.

#include <cstddef>
#include <cstdint>

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace salvo::engine::detail {

/// Fills `out[k]` with the mask of the delimiter, `"` and `\n` bytes of the
/// block at `p + 64 * k`, for `k < blocks`. Uses AVX2 when the CPU has it
/// (checked once), else SSE2. Reads up to 64 bytes past the last block start.
void structural_masks(const char* p, std::size_t blocks, char delimiter,
                      std::uint64_t* out) noexcept;

class structural_masker {
  public:
    explicit structural_masker(char delimiter) noexcept
        : delimiter_(delimiter)
#if defined(__AVX2__)
          ,
          d_(_mm256_set1_epi8(delimiter)),
          q_(_mm256_set1_epi8('"')),
          n_(_mm256_set1_epi8('\n'))
#elif defined(__SSE2__)
          ,
          d_(_mm_set1_epi8(delimiter)),
          q_(_mm_set1_epi8('"')),
          n_(_mm_set1_epi8('\n'))
#endif
    {
    }

    [[nodiscard]] std::uint64_t operator()(const char* p) const noexcept {
#if defined(__AVX2__)
        return half(p) | (half(p + 32) << 32);
#elif defined(__SSE2__)
        return quarter(p) | (quarter(p + 16) << 16) | (quarter(p + 32) << 32) |
               (quarter(p + 48) << 48);
#else
        std::uint64_t m = 0;
        for (int i = 0; i < 64; ++i) {
            char c = p[i];
            if (c == delimiter_ || c == '"' || c == '\n') m |= std::uint64_t{1} << i;
        }
        return m;
#endif
    }

    /// The bytes of a block that are quotes or line feeds (quoted-field scan).
    [[nodiscard]] std::uint64_t quotes_and_newlines(const char* p) const noexcept {
#if defined(__AVX2__)
        return qn_half(p) | (qn_half(p + 32) << 32);
#elif defined(__SSE2__)
        return qn_quarter(p) | (qn_quarter(p + 16) << 16) | (qn_quarter(p + 32) << 32) |
               (qn_quarter(p + 48) << 48);
#else
        std::uint64_t m = 0;
        for (int i = 0; i < 64; ++i) {
            if (p[i] == '"' || p[i] == '\n') m |= std::uint64_t{1} << i;
        }
        return m;
#endif
    }

  private:
    [[maybe_unused]] char delimiter_;
#if defined(__AVX2__)
    __m256i d_, q_, n_;
    [[nodiscard]] std::uint64_t half(const char* p) const noexcept {
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        __m256i m =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, d_), _mm256_cmpeq_epi8(v, q_)),
                            _mm256_cmpeq_epi8(v, n_));
        return static_cast<std::uint32_t>(_mm256_movemask_epi8(m));
    }
    [[nodiscard]] std::uint64_t qn_half(const char* p) const noexcept {
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        __m256i m = _mm256_or_si256(_mm256_cmpeq_epi8(v, q_), _mm256_cmpeq_epi8(v, n_));
        return static_cast<std::uint32_t>(_mm256_movemask_epi8(m));
    }
#elif defined(__SSE2__)
    __m128i d_, q_, n_;
    [[nodiscard]] std::uint64_t quarter(const char* p) const noexcept {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, d_), _mm_cmpeq_epi8(v, q_)),
                                 _mm_cmpeq_epi8(v, n_));
        return static_cast<std::uint16_t>(_mm_movemask_epi8(m));
    }
    [[nodiscard]] std::uint64_t qn_quarter(const char* p) const noexcept {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, q_), _mm_cmpeq_epi8(v, n_));
        return static_cast<std::uint16_t>(_mm_movemask_epi8(m));
    }
#endif
};

}  // namespace salvo::engine::detail

namespace salvo::engine::detail {

/// The bytes of a 64-byte block that matter to a JSON element scanner:
/// `"` `\` `{` `}` `[` `]` and line feeds.
[[nodiscard]] inline std::uint64_t json_structural_mask(const char* p) noexcept {
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), lf = _mm_set1_epi8('\n');
    const __m128i ob = _mm_set1_epi8('{'), cb = _mm_set1_epi8('}');
    const __m128i os = _mm_set1_epi8('['), cs = _mm_set1_epi8(']');
    std::uint64_t out = 0;
    for (int i = 0; i < 4; ++i) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
        __m128i m =
            _mm_or_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                      _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, ob))),
                         _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cb), _mm_cmpeq_epi8(v, os)),
                                      _mm_cmpeq_epi8(v, cs)));
        out |= std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(m))} << (16 * i);
    }
    return out;
#else
    std::uint64_t m = 0;
    for (int i = 0; i < 64; ++i) {
        char c = p[i];
        if (c == '"' || c == '\\' || c == '\n' || c == '{' || c == '}' || c == '[' || c == ']') {
            m |= std::uint64_t{1} << i;
        }
    }
    return m;
#endif
}

}  // namespace salvo::engine::detail
