// Rate limiter admission (transport::rate_limiter::try_acquire), the check
// the network thread makes before every request: with no limit, with the
// per-second limits, and with every quota on. A fake clock that advances by
// 1 ms per call keeps the buckets refilling, so the admitting path is timed.
#include <salvo/transport/rate_limiter.hpp>

#include <benchmark/benchmark.h>

namespace {

using namespace salvo::transport;

class stepping_clock final : public clock {
  public:
    [[nodiscard]] time_point now() const noexcept override {
        now_ += std::chrono::milliseconds(1);
        return now_;
    }
    [[nodiscard]] system_time_point system_now() const noexcept override { return {}; }

  private:
    mutable time_point now_{};
};

void admit(benchmark::State& state, const rate_limits& limits) {
    stepping_clock clk;
    rate_limiter limiter(limits, clk);
    std::uint64_t admitted = 0;
    for (auto _ : state) {
        const auto wait = limiter.try_acquire(10);
        admitted += wait == clock::duration::zero() ? 1 : 0;
        benchmark::DoNotOptimize(wait);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["admitted"] =
        static_cast<double>(admitted) / static_cast<double>(state.iterations());
}

void BM_RateLimiter_Unlimited(benchmark::State& state) {
    admit(state, {});
}
BENCHMARK(BM_RateLimiter_Unlimited);

void BM_RateLimiter_PerSecond(benchmark::State& state) {
    rate_limits l;
    l.requests_per_second = 1e6;
    l.cost_per_second = 1e7;
    admit(state, l);
}
BENCHMARK(BM_RateLimiter_PerSecond);

void BM_RateLimiter_AllQuotas(benchmark::State& state) {
    rate_limits l;
    l.requests_per_second = 1e6;
    l.cost_per_second = 1e7;
    l.cost_per_minute = 600'000'000;
    l.cost_per_hour = 36'000'000'000;
    l.cost_per_day = 864'000'000'000;
    admit(state, l);
}
BENCHMARK(BM_RateLimiter_AllQuotas);

}  // namespace

BENCHMARK_MAIN();
