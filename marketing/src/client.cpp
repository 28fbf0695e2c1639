#include <salvo/marketing/client.hpp>
#include <salvo/merge/escape.hpp>
#include <salvo/transport/call.hpp>

#include <condition_variable>
#include <mutex>

namespace salvo::marketing {

namespace {

// A request's own failure in plain words: the API's message when it sent
// one, else the transport's.
failure failure_of(const transport::outcome& o) {
    failure f{o.http_status, {}};
    const std::string api = o.http_status ? read_error_message(o.body) : std::string();
    if (o.http_status == 401)
        f.message =
            "the Marketing API refused the credentials (401): check the ServerId and "
            "the Marketing API key (marketing.api_key_env / marketing.api_key_file)";
    else if (!api.empty())
        f.message = "HTTP " + std::to_string(o.http_status) + ": " + api;
    else if (o.http_status)
        f.message = "HTTP " + std::to_string(o.http_status) + ": " + o.message;
    else
        f.message = o.message.empty() ? std::string(transport::to_string(o.result)) : o.message;
    return f;
}

// An attempt whose answer never came or was a retryable error after the
// transport's own retries: an upsert may be sent again.
bool resendable(const transport::outcome& o) noexcept {
    return o.result == transport::disposition::maybe_delivered ||
           o.result == transport::disposition::retry_now ||
           o.result == transport::disposition::retry_after_backoff;
}

}  // namespace

std::string_view to_string(push_fate f) noexcept {
    switch (f) {
        case push_fate::created:
            return "created";
        case push_fate::updated:
            return "updated";
        case push_fate::list_not_found:
            return "list_not_found";
        case push_fate::over_contact_limit:
            return "over_contact_limit";
        case push_fate::bad_address:
            return "bad_address";
        case push_fate::unauthorized:
            return "unauthorized";
        case push_fate::failed:
            return "failed";
    }
    return "failed";
}

struct client::impl {
    config cfg;
    transport::client http;
    std::vector<std::string> headers;

    impl(config c, transport::client_options o) : cfg(std::move(c)), http(std::move(o)) {
        while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
        if (cfg.page_size == 0 || cfg.page_size > max_page_size) cfg.page_size = max_page_size;
        headers = {transport::basic_authorization(cfg.server_id, cfg.api_key),
                   "Accept: application/json", "Content-Type: application/json"};
    }

    transport::request make(std::string method, const std::string& path, std::string body = {}) {
        transport::request r;
        r.method = std::move(method);
        r.url = cfg.endpoint + path;
        r.headers = headers;
        r.body = std::move(body);
        return r;
    }
};

client::client(config cfg, transport::client_options options)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(options))) {}

client::~client() {
    impl_->http.shutdown(std::chrono::milliseconds(0));
}

boost::system::result<std::vector<list_info>, failure> client::lists() {
    std::vector<list_info> out;
    for (std::uint64_t page = 1;; ++page) {
        auto o = transport::call(
            impl_->http, impl_->make("GET", "/lists?page=" + std::to_string(page) + "&pageSize=" +
                                                std::to_string(impl_->cfg.page_size)));
        if (o.result != transport::disposition::success) return failure_of(o);
        auto p = read_list_page(o.body);
        if (!p) return failure{o.http_status, p.error().message};
        const bool last = p->lists.empty() || page * p->page_size >= p->total;
        for (auto& l : p->lists) out.push_back(std::move(l));
        if (last) return out;
    }
}

boost::system::result<void, failure> client::for_each_page(
    std::uint64_t list_id, const std::function<bool(contact_page&)>& each) {
    const std::string base = "/lists/" + std::to_string(list_id) +
                             "/contacts?pageSize=" + std::to_string(impl_->cfg.page_size) +
                             "&page=";
    for (std::uint64_t page = 1;; ++page) {
        auto o = transport::call(impl_->http, impl_->make("GET", base + std::to_string(page)));
        if (o.result != transport::disposition::success) return failure_of(o);
        auto p = read_contact_page(o.body);
        if (!p) return failure{o.http_status, p.error().message};
        if (p->page != page)
            return failure{o.http_status, "the Marketing API answered page " +
                                              std::to_string(p->page) + " when asked for page " +
                                              std::to_string(page)};
        const bool last = p->contacts.empty() || page * p->page_size >= p->total;
        if (!each(*p) || last) return {};
    }
}

std::vector<push_result> client::push(std::uint64_t list_id, const std::vector<contact>& contacts) {
    std::vector<push_result> results(contacts.size());
    std::vector<bool> resend(contacts.size(), false);
    const std::string path = "/lists/" + std::to_string(list_id) + "/contacts";
    std::mutex m;
    std::condition_variable cv;
    std::size_t pending = 0;
    std::vector<std::size_t> todo(contacts.size());
    for (std::size_t i = 0; i < contacts.size(); ++i) todo[i] = i;
    constexpr int rounds = 3;
    for (int round = 0; round < rounds && !todo.empty(); ++round) {
        for (const auto i : todo) {
            auto req = impl_->make("PUT", path, contact_json(contacts[i]));
            req.user_data = i;
            {
                const std::lock_guard lock(m);
                ++pending;
            }
            const auto ec = impl_->http.submit(
                std::move(req), [&](transport::request&& r, transport::outcome&& o) {
                    auto& res = results[r.user_data];
                    res.attempts += o.attempts;
                    res.http_status = o.http_status;
                    res.message.clear();
                    resend[r.user_data] = false;
                    if (o.result == transport::disposition::success) {
                        res.fate = o.http_status == 201 ? push_fate::created : push_fate::updated;
                    } else {
                        switch (o.http_status) {
                            case 404:
                                res.fate = push_fate::list_not_found;
                                break;
                            case 403:
                                res.fate = push_fate::over_contact_limit;
                                break;
                            case 400:
                                res.fate = push_fate::bad_address;
                                break;
                            case 401:
                                res.fate = push_fate::unauthorized;
                                // Nothing more can succeed with these credentials.
                                impl_->http.stop_admitting();
                                break;
                            default:
                                res.fate = push_fate::failed;
                                resend[r.user_data] = resendable(o);
                        }
                        res.message = failure_of(o).message;
                    }
                    const std::lock_guard lock(m);
                    if (--pending == 0) cv.notify_all();
                });
            if (ec) {
                results[i].fate = push_fate::failed;
                results[i].message = "not sent: the client stopped (an earlier 401)";
                const std::lock_guard lock(m);
                --pending;
            }
        }
        {
            std::unique_lock lock(m);
            cv.wait(lock, [&] { return pending == 0; });
        }
        std::vector<std::size_t> next;
        for (const auto i : todo)
            if (resend[i]) next.push_back(i);
        todo = std::move(next);
    }
    return results;
}

boost::system::result<void, failure> client::unsubscribe(std::string_view email) {
    std::string body = "{\"emailAddress\":\"";
    merge::append_json_escaped(body, email);
    body += "\"}";
    auto o = transport::call(impl_->http, impl_->make("POST", "/contacts/unsubscribe/", body));
    if (o.result != transport::disposition::success) return failure_of(o);
    return {};
}

}  // namespace salvo::marketing
