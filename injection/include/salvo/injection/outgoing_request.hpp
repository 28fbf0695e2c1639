#pragma once
/// One Injection API request as the batcher built it: the body, and which
/// recipient sits where in it, so that the response can be mapped back.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::injection {

/// Where one recipient landed in a request.
struct slot {
    std::uint64_t id = 0;              ///< recipient::id
    std::uint32_t message = 0;         ///< index in "Messages" (MessageResults[].Index)
    std::uint32_t row = 0;             ///< PerMessage row in server mode; 0 in local mode
    std::uint32_t address_offset = 0;  ///< into outgoing_request::addresses
    std::uint32_t address_size = 0;
};

/// A finished request, ready to send. Move-only in spirit: it owns its body
/// until the response is read; hand it back to batcher::recycle() to reuse
/// the buffers. Not thread-safe; one owner at a time.
struct outgoing_request {
    std::uint64_t sequence = 0;  ///< 0, 1, 2, … per batcher
    std::string body;            ///< the JSON body
    /// In the order the recipients were added. In server mode the rows of
    /// one message need not be next to each other: each message holds rows
    /// of one kind (request_writer::field_mask), taken as they came.
    std::vector<slot> slots;
    std::string addresses;       ///< the delivery addresses, back to back
    std::uint32_t messages = 0;  ///< entries in "Messages"

    [[nodiscard]] std::string_view address(const slot& s) const noexcept {
        return std::string_view(addresses).substr(s.address_offset, s.address_size);
    }
    void clear() noexcept {
        body.clear();
        slots.clear();
        addresses.clear();
        messages = 0;
    }
};

}  // namespace salvo::injection
