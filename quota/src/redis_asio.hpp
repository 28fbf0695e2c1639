#pragma once
// The hiredis <-> Asio bridge: hiredis' async adapter hooks (addRead,
// delRead, addWrite, delWrite, cleanup) on a posix::stream_descriptor, the
// same discipline as the curl bridge (transport/src/curl_asio.cpp):
//   - one thread, the io_context's, owns the redisAsyncContext and makes
//     every hiredis call;
//   - each direction has one async_wait in flight at most; its handler
//     clears the flag, calls redisAsyncHandleRead/Write while hiredis still
//     wants that direction, and re-arms while it still does;
//   - hiredis owns and closes the fd: cleanup() release()s the descriptor,
//     and per-connection state lives in a shared_ptr that pending handlers
//     hold, so a handler that runs after the context is freed does nothing.

#include <hiredis/async.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>

namespace salvo::quota::detail {

struct redis_asio_link {
    explicit redis_asio_link(boost::asio::io_context& io) : fd(io) {}
    redisAsyncContext* ac = nullptr;  // null once hiredis has cleaned up
    boost::asio::posix::stream_descriptor fd;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;  // an async_wait is in flight
    std::shared_ptr<redis_asio_link> self;  // kept until cleanup()
};

// Attaches `ac` (just made by redisAsyncConnect*) to `io`. False when the
// fd cannot be wrapped; the caller then frees `ac`.
[[nodiscard]] bool attach(redisAsyncContext* ac, boost::asio::io_context& io);

}  // namespace salvo::quota::detail
