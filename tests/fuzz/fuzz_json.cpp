// libFuzzer target: the JSON array and NDJSON readers. The first byte picks
// the format, the chunk size and whether the field list is given.

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t knobs = data[0];
    salvo::engine::source_options o;
    const bool ndjson = (knobs & 1) != 0;
    o.format = ndjson ? salvo::engine::input_format::ndjson : salvo::engine::input_format::json;
    o.chunk_bytes = (knobs & 2) ? 64 : 4096;
    o.max_record_bytes = (knobs & 4) ? 256 : 8192;
    if (knobs & 8) o.fields = {"email", "name"};
    salvo::engine::fuzz::read_through(data + 1, size - 1, ndjson ? "fuzz.ndjson" : "fuzz.json", o);
    return 0;
}
