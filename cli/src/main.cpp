// The salvo command line.
#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    CLI::App app{"salvo: bulk mail-merge and injection for the SocketLabs Injection API"};
    app.set_version_flag("--version", "salvo " SALVO_VERSION);
    app.require_subcommand(1);
    CLI11_PARSE(app, argc, argv);
    return 0;
}
