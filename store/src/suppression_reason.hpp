#pragma once
// Why a newly stored event puts its address on the suppression list: the
// one rule both backends apply (sqlite_store.cpp, pg_store.cpp).

#include <salvo/platform/event.hpp>
#include <salvo/store/store.hpp>

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

}  // namespace salvo::store::detail
