#pragma once
// Why a newly stored event puts its address on the suppression list, and
// which of two suppressions of one address is kept: the rules both
// backends apply (sqlite_store.cpp, pg_store.cpp).

#include <salvo/platform/event.hpp>
#include <salvo/store/store.hpp>

#include <string_view>

namespace salvo::store::detail {

/// hard_bounce, platform_suppressed, complained or unsubscribed at once;
/// "soft_bounces" for a soft bounce that may suppress (the backend counts
/// the soft bounces within the window); nullptr otherwise.
inline const char* suppression_reason(const platform::event& e, const suppression_rules& rules) {
    switch (platform::state_of(e)) {
        case platform::delivery_state::bounced:
            return e.failure_type == platform::failure_suppressed ? "platform_suppressed"
                                                                  : "hard_bounce";
        case platform::delivery_state::complained:
            return "complained";
        case platform::delivery_state::unsubscribed:
            return "unsubscribed";
        case platform::delivery_state::soft_bounced:
            return rules.soft_bounce_count > 0 && e.time_ms ? "soft_bounces" : nullptr;
        default:
            return nullptr;
    }
}

/// The rank of a suppression: an entry added by hand (source `manual`) is
/// never replaced; otherwise a higher rank replaces a lower one (complaint >
/// unsubscribe > hard bounce / platform suppression > soft bounces), and
/// between equal ranks the earlier stored event stays. PostgreSQL has the
/// same function in SQL (schema/pg/003_reason_names.sql); SQLite calls
/// this one. The old names `complaint` and `unsubscribe` rank as the new.
inline int suppression_rank(std::string_view reason, std::string_view source) noexcept {
    if (source == "manual") return 9;
    if (reason == "complained" || reason == "complaint") return 5;
    if (reason == "unsubscribed" || reason == "unsubscribe") return 4;
    if (reason == "hard_bounce" || reason == "platform_suppressed") return 3;
    if (reason == "soft_bounces") return 1;
    return 0;
}

}  // namespace salvo::store::detail
