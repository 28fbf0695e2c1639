#include <salvo/merge/escape.hpp>
#include <salvo/reporting/client.hpp>
#include <salvo/transport/call.hpp>

namespace salvo::reporting {

struct client::impl {
    config cfg;
    transport::client http;
    std::vector<std::string> headers;

    impl(config c, transport::client_options o) : cfg(std::move(c)), http(std::move(o)) {
        while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
        headers = {transport::basic_authorization(cfg.user, cfg.api_key),
                   "Accept: application/json"};
    }
};

client::client(config cfg, transport::client_options options)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(options))) {}

client::~client() {
    impl_->http.shutdown(std::chrono::milliseconds(0));
}

boost::system::result<std::vector<report_row>, failure> client::fetch(std::string_view method,
                                                                      const filter& f) {
    const auto url_encode = [](std::string_view v) {
        std::string out;
        merge::append_url_encoded(out, v);
        return out;
    };
    std::string base = impl_->cfg.endpoint + "/" + std::string(method) +
                       "?serverId=" + url_encode(impl_->cfg.server_id) +
                       "&type=JSON&count=" + std::to_string(max_count);
    if (!f.mailing_id.empty()) base += "&mailingId=" + url_encode(f.mailing_id);
    if (!f.message_id.empty()) base += "&messageId=" + url_encode(f.message_id);
    if (!f.start_date.empty()) base += "&startDate=" + url_encode(f.start_date);
    if (!f.end_date.empty()) base += "&endDate=" + url_encode(f.end_date);
    std::vector<report_row> out;
    for (std::uint64_t index = 0;;) {
        transport::request r;
        r.method = "GET";
        r.url = base + "&index=" + std::to_string(index);
        r.headers = impl_->headers;
        auto o = transport::call(impl_->http, std::move(r));
        if (o.result != transport::disposition::success) {
            if (o.http_status == 401)
                return failure{401,
                               "the Reporting API refused the credentials (401): check "
                               "reporting.user and the Reporting API key "
                               "(reporting.api_key_env / reporting.api_key_file)"};
            return failure{o.http_status, o.http_status ? "HTTP " + std::to_string(o.http_status) +
                                                              " from " + std::string(method)
                                                        : o.message};
        }
        auto p = read_report_page(o.body);
        if (!p) return failure{o.http_status, p.error().message};
        const auto got = p->rows.size();
        for (auto& row : p->rows) out.push_back(std::move(row));
        index += got;
        if (got == 0 || index >= p->total) return out;
    }
}

}  // namespace salvo::reporting
