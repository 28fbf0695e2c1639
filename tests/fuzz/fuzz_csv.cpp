// libFuzzer target: the CSV reader. The first byte picks the delimiter, the
// chunk size (tiny chunks move every record across a chunk edge) and the
// encoding; the rest is the file.

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t knobs = data[0];
    salvo::engine::source_options o;
    o.format = salvo::engine::input_format::csv;
    const char delimiters[] = {0, ',', ';', '\t'};
    o.delimiter = delimiters[knobs & 3];
    o.chunk_bytes = (knobs & 4) ? 64 : 4096;
    o.max_record_bytes = (knobs & 8) ? 256 : 8192;
    o.encoding = (knobs & 16) ? "windows-1252" : "utf-8";
    salvo::engine::fuzz::read_through(data + 1, size - 1, "fuzz.csv", o);
    return 0;
}
