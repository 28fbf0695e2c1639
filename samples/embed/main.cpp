// Embedding salvo: send to rows the host program already holds (here a
// vector standing in for a database query) and see each row's fate as it is
// decided. Build against an installed salvo: see CMakeLists.txt.
//   embed_sample [ENDPOINT] [WORK_DIR]
#include <salvo/engine/job.hpp>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    namespace engine = salvo::engine;
    struct customer {
        std::string email, first_name, plan;
    };
    const std::vector<customer> customers = {
        {"ann@example.com", "Ann", "Pro"},      {"bob@example.com", "Bob", "Free"},
        {"chloe@example.com", "Chloé", "Team"}, {"not-an-address", "Dan", "Free"},
        {"eve@example.com", "", "Pro"},
    };

    engine::job_config job;
    job.endpoint = argc > 1 ? argv[1] : "http://127.0.0.1:8465/api/v1/email";
    const std::string dir = argc > 2 ? argv[2] : ".";
    job.server_id = "12345";
    job.message.from = {"news@example.com", "Example News"};
    job.message.subject = {true, {}, "Hello %%first_name|friend%%", "subject"};
    job.message.text = {true, {}, "Your plan: %%plan%%.", "text"};
    job.results = dir + "/embed-results.ndjson";
    job.journal = dir + "/embed.journal";

    // The rows, a few per call, as a database cursor would hand them over.
    std::size_t next = 0;
    auto source = engine::make_callback_source(
        {"email", "first_name", "plan"}, [&](engine::chunk_writer& out) {
            for (int i = 0; i < 2 && next < customers.size(); ++i, ++next) {
                const auto& c = customers[next];
                out.add_row({c.email, c.first_name, c.plan});
            }
            return next < customers.size();
        });

    std::atomic<int> accepted{0}, other{0};
    engine::run_options run;
    run.api_key = "embed-demo-key";  // a real host reads it from its secret store
    run.on_row = [&](const engine::row_outcome& o) {
        (o.status == engine::fate::accepted ? accepted : other)++;
    };

    auto created = engine::job::create(std::move(job), std::move(run), std::move(source));
    if (!created) {
        std::fprintf(stderr, "embed: %s\n", created.error().message.c_str());
        return 2;
    }
    const engine::report r = (*created)->run();
    std::printf("%s", r.to_table().c_str());
    std::printf("embed: %d accepted, %d other\n", accepted.load(), other.load());
    return r.status == engine::job_status::finished ? 0 : 1;
}
