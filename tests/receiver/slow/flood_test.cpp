// The size: kill -9 during a flood of 100 000 events (label `slow`).
#include "../flood.hpp"

namespace salvo::test {
namespace {

TEST(ListenFlood, KillNineDuringAFloodOfOneHundredThousandEvents) {
    kill_nine_during_flood({4, 2500, 10, 4000});
}

}  // namespace
}  // namespace salvo::test
