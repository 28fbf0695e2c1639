#include "writer.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <chrono>

namespace salvo::receiver::detail {

namespace asio = boost::asio;

namespace {

void complete(asio::any_io_executor& ex, writer::handler h, boost::system::error_code ec) {
    asio::post(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

writer::writer(std::unique_ptr<store::event_store> store, std::size_t max_batch, metrics& m)
    : store_(std::move(store)), max_batch_(max_batch == 0 ? 1 : max_batch), m_(m) {
    thread_ = std::thread([this] { run(); });
}

writer::~writer() {
    stop();
}

void writer::submit(work w, asio::any_io_executor ex, handler done) {
    std::unique_lock lock(mutex_);
    if (stopping_) {
        lock.unlock();
        complete(ex, std::move(done), asio::error::operation_aborted);
        return;
    }
    m_.queue_depth.fetch_add(static_cast<std::int64_t>(w.size()), std::memory_order_relaxed);
    queue_.push_back(job{std::move(w), std::move(ex), std::move(done)});
    lock.unlock();
    wake_.notify_one();
}

void writer::stop() {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void writer::run() {
    std::vector<job> batch;
    std::vector<store::write_item> items;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything is answered
            // Whole posts only: a post's events commit together or not at all.
            std::size_t n = 0;
            while (!queue_.empty() &&
                   (batch.empty() || n + queue_.front().w.size() <= max_batch_)) {
                n += queue_.front().w.size();
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        items.clear();
        for (auto& j : batch) {
            for (const auto& e : j.w.events) items.push_back({&e, j.w.source, nullptr});
            if (j.w.inbound) items.push_back({nullptr, "inbound", j.w.inbound.get()});
        }
        const auto started = std::chrono::steady_clock::now();
        const auto r = store_->write_items(items, now_ms());
        boost::system::error_code ec;
        if (r) {
            m_.committed(std::chrono::steady_clock::now() - started);
            for (std::size_t t = 0; t < platform::event_type_count; ++t)
                bump(m_.stored_by_type[t], r->stored_by_type[t]);
            bump(m_.duplicates, r->duplicates);
            bump(m_.suppressed, r->suppressed);
            bump(m_.inbound_stored, r->inbound_stored);
            bump(m_.inbound_duplicates, r->inbound_duplicates);
        } else {
            ec = r.error();
            bump(m_.commit_failures);
        }
        m_.queue_depth.fetch_sub(static_cast<std::int64_t>(items.size()),
                                 std::memory_order_relaxed);
        for (auto& j : batch) complete(j.ex, std::move(j.done), ec);
        batch.clear();
    }
}

}  // namespace salvo::receiver::detail
