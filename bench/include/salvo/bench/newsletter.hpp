#pragma once
// A realistic newsletter for benchmarks: subject ~60 B, text ~1.5 KB,
// HTML ~3 KB, 8 fields, and rows with plausible values. Shared by the
// benchmarks so that every figure speaks of the same email.

#include <salvo/merge/template.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace salvo::bench {

inline const std::vector<std::string>& newsletter_columns() {
    static const std::vector<std::string> columns{"email", "first_name", "last_name",   "company",
                                                  "city",  "plan",       "customer_id", "points"};
    return columns;
}

inline std::string newsletter_subject() {
    return "%%first_name|Friend%%, your November picks from %%company%% are here";
}

inline std::string newsletter_text() {
    std::string t =
        "Hi %%first_name|there%%,\n\n"
        "Thanks for being a %%plan%% member of %%company%% since the spring. Here is what is "
        "new this month in %%city|your city%%, picked for you.\n\n";
    for (int i = 0; i < 6; ++i) {
        t += "* A story about something worth reading, with a short summary that runs to a "
             "couple of lines so the text part looks like real mail. Read more at "
             "https://news.example.com/a/";
        t += std::to_string(1000 + i);
        t += "?c=%%customer_id%%\n";
    }
    t += "\nYou have %%points%% points. Manage your account at "
         "https://example.com/account/%%customer_id%%\n\n"
         "-- \nThe Example News team\nUnsubscribe: https://example.com/u/%%email:url%%\n";
    return t;
}

inline std::string newsletter_html() {
    std::string h =
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>November</title>"
        "<style>body{font-family:Arial,sans-serif;color:#222}h1{font-size:22px}"
        ".story{margin:0 0 16px 0}.foot{font-size:11px;color:#888}</style></head><body>"
        "<h1>Hi %%first_name|there%% %%last_name%%,</h1>"
        "<p>Thanks for being a <b>%%plan%%</b> member of %%company%%. Here is what is new in "
        "%%city|your city%% this month.</p>";
    for (int i = 0; i < 8; ++i) {
        h += "<div class=\"story\"><h2>A headline worth a click</h2><p>A short summary that "
             "runs to a couple of lines, so the HTML part weighs what real mail weighs. "
             "</p><a href=\"https://news.example.com/a/";
        h += std::to_string(1000 + i);
        h += "?c=%%customer_id%%\">Read more</a></div>";
    }
    h += "<p>You have <b>%%points%%</b> points.</p><p class=\"foot\">Sent to %%email%%. "
         "<a href=\"https://example.com/u/%%email:url%%\">Unsubscribe</a></p></body></html>";
    return h;
}

/// `count` rows of plausible values (some with characters that need escaping).
inline std::vector<std::vector<std::string>> newsletter_rows(std::size_t count) {
    static const char* firsts[] = {"Ann", "Bob", "Zoë", "Liam", "O'Neil", "", "Mia", "Noah"};
    static const char* lasts[] = {"Smith", "García", "Nguyen", "Müller", "Brown & Co", "Lee"};
    static const char* cities[] = {"Berlin", "São Paulo", "", "Tokyo", "Austin", "Lyon"};
    static const char* plans[] = {"gold", "silver", "<trial>", "basic"};
    std::vector<std::vector<std::string>> rows;
    rows.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        char email[64];
        std::snprintf(email, sizeof email, "user%zu@mail%zu.example.com", i, i % 97);
        std::string id = "C";
        id += std::to_string(100000 + i);
        rows.push_back({email, firsts[i % 8], lasts[i % 6], "Example \"Corp\"", cities[i % 6],
                        plans[i % 4], std::move(id), std::to_string((i * 37) % 5000)});
    }
    return rows;
}

}  // namespace salvo::bench
