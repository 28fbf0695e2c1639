/* The bare libcurl reference for bench/limit/run.sh: one thread, one curl
 * multi handle, N easy handles kept busy posting the same body to one URL
 * with CURLOPT_POSTFIELDS (no read callback, no copy), keep-alive through
 * handle reuse, driven by curl_multi_perform + curl_multi_poll. Nothing is
 * rendered, parsed or written down: what it costs per request is what
 * libcurl and the kernel cost, the floor salvo's transport is measured
 * against.
 *
 *   salvo_limit_client --url URL --body FILE [--connections N]
 *                      [--seconds S | --requests N] [--json]
 *
 * Prints requests/s, body bytes/s and CPU µs per request (getrusage user +
 * sys of this process over the run, divided by the requests), and with
 * --json one JSON line with the same after that. Every response must be
 * HTTP 200 and every body must go out whole (the sink may answer before it
 * has read the body; curl keeps sending after a 2xx): the others are
 * counted. Exit status: 0 when every request got a 200 and sent its whole
 * body, 1 when some did not, 2 for a usage or setup error.
 */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct options {
    const char* url;
    const char* body_file;
    long connections;
    double seconds;
    long long requests; /* 0: bounded by seconds */
    int json;
};

struct totals {
    long long started, done, ok, non_200, errors, short_uploads;
    long long body_bytes_out, bytes_in;
    long last_status;
    CURLcode last_error;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(const struct timeval* tv) {
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* The response body is counted and dropped. */
static size_t on_write(char* data, size_t size, size_t n, void* user) {
    (void)data;
    *(long long*)user += (long long)(size * n);
    return size * n;
}

static int usage(const char* why) {
    if (why) fprintf(stderr, "salvo_limit_client: %s\n", why);
    fprintf(stderr,
            "usage: salvo_limit_client --url URL --body FILE [--connections N (32)]\n"
            "                          [--seconds S (8) | --requests N] [--json]\n");
    return 2;
}

static int parse_options(int argc, char** argv, struct options* o) {
    o->url = NULL;
    o->body_file = NULL;
    o->connections = 32;
    o->seconds = 8;
    o->requests = 0;
    o->json = 0;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        char* end = NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(NULL);
        if (!v) return usage("an option needs a value");
        ++i;
        errno = 0;
        if (strcmp(a, "--url") == 0) {
            o->url = v;
        } else if (strcmp(a, "--body") == 0) {
            o->body_file = v;
        } else if (strcmp(a, "--connections") == 0) {
            o->connections = strtol(v, &end, 10);
            if (errno || *end || o->connections < 1 || o->connections > 4096)
                return usage("--connections: a whole number from 1 to 4096");
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = strtod(v, &end);
            if (errno || *end || !(o->seconds > 0)) return usage("--seconds: a positive number");
            o->requests = 0;
        } else if (strcmp(a, "--requests") == 0) {
            o->requests = strtoll(v, &end, 10);
            if (errno || *end || o->requests < 1) return usage("--requests: a positive number");
        } else {
            fprintf(stderr, "salvo_limit_client: unknown option %s\n", a);
            return usage(NULL);
        }
    }
    if (!o->url || !o->body_file) return usage("--url and --body are required");
    return 0;
}

/* The whole file in one malloc'd buffer; curl sends it from there
 * (CURLOPT_POSTFIELDS does not copy, so it lives until the end). */
static char* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "salvo_limit_client: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char* buf = malloc(cap);
    while (buf) {
        const size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
        if (len == cap) {
            char* bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    const int failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        fprintf(stderr, "salvo_limit_client: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    *size = len;
    return buf;
}

static CURL* make_handle(const struct options* o, const char* body, size_t body_size,
                         struct curl_slist* headers, struct totals* t) {
    CURL* e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->bytes_in);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    return e;
}

/* One finished transfer: count it, then start it again while the run lasts. */
static void finish(CURLM* multi, CURLMsg* m, struct totals* t, long long body_size, int more) {
    CURL* e = m->easy_handle;
    long status = 0;
    curl_off_t up = 0;
    ++t->done;
    if (m->data.result != CURLE_OK) {
        ++t->errors;
        t->last_error = m->data.result;
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
        t->body_bytes_out += (long long)up;
        if ((long long)up != body_size) ++t->short_uploads;
        if (status == 200) {
            ++t->ok;
        } else {
            ++t->non_200;
            t->last_status = status;
        }
    }
    curl_multi_remove_handle(multi, e);
    if (more) {
        /* The same handle again: its connection stays in the multi's
         * cache, so the next request goes out on the kept-alive socket. */
        curl_multi_add_handle(multi, e);
        ++t->started;
    }
}

int main(int argc, char** argv) {
    struct options o;
    const int bad = parse_options(argc, argv, &o);
    if (bad) return bad;
    size_t body_size = 0;
    char* body = read_file(o.body_file, &body_size);
    if (!body) return 2;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "salvo_limit_client: curl_global_init failed\n");
        return 2;
    }
    CURLM* multi = curl_multi_init();
    struct curl_slist* headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = headers ? curl_slist_append(headers, "Expect:") : NULL;
    CURL** handles = calloc((size_t)o.connections, sizeof *handles);
    struct totals t;
    memset(&t, 0, sizeof t);
    if (!multi || !headers || !handles) {
        fprintf(stderr, "salvo_limit_client: out of memory\n");
        return 2;
    }
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, o.connections);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    const double t0 = now_seconds();
    const double deadline = t0 + o.seconds;
    for (long i = 0; i < o.connections; ++i) {
        if (o.requests > 0 && t.started >= o.requests) break;
        handles[i] = make_handle(&o, body, body_size, headers, &t);
        if (!handles[i] || curl_multi_add_handle(multi, handles[i]) != CURLM_OK) {
            fprintf(stderr, "salvo_limit_client: cannot create easy handle %ld\n", i);
            return 2;
        }
        ++t.started;
    }

    int running = 1;
    double t1 = t0;
    while (running > 0) {
        CURLMcode mc = curl_multi_perform(multi, &running);
        CURLMsg* m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE) continue;
            t1 = now_seconds();
            const int more = o.requests > 0 ? t.started < o.requests : t1 < deadline;
            finish(multi, m, &t, (long long)body_size, more);
            /* A re-added handle must be counted as running for the loop. */
            if (more) running = 1;
        }
        if (mc == CURLM_OK && running > 0) mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            fprintf(stderr, "salvo_limit_client: %s\n", curl_multi_strerror(mc));
            return 2;
        }
    }
    getrusage(RUSAGE_SELF, &ru1);

    const double secs = t1 > t0 ? t1 - t0 : 1e-9;
    const double user = cpu_seconds(&ru1.ru_utime) - cpu_seconds(&ru0.ru_utime);
    const double sys = cpu_seconds(&ru1.ru_stime) - cpu_seconds(&ru0.ru_stime);
    const double per_request_us = t.done > 0 ? (user + sys) * 1e6 / (double)t.done : 0;
    const double rps = (double)t.ok / secs;
    const double bps = (double)t.body_bytes_out / secs;
    printf("bare libcurl client, %ld connections, %zu-byte body, %s\n", o.connections, body_size,
           o.url);
    printf("  %lld requests in %.2f s: %.0f requests/s, %.1f MB/s of request bodies\n", t.done,
           secs, rps, bps / 1e6);
    printf("  CPU %.2f s user + %.2f s sys: %.1f us per request\n", user, sys, per_request_us);
    printf(
        "  HTTP 200: %lld, other status: %lld, transport errors: %lld, bodies not sent "
        "whole: %lld\n",
        t.ok, t.non_200, t.errors, t.short_uploads);
    if (o.json)
        printf(
            "{\"client\":\"bare-libcurl\",\"connections\":%ld,\"body_bytes\":%zu,"
            "\"requests\":%lld,\"ok\":%lld,\"non_200\":%lld,\"errors\":%lld,"
            "\"short_uploads\":%lld,"
            "\"seconds\":%.3f,\"requests_per_second\":%.1f,\"body_bytes_per_second\":%.0f,"
            "\"body_bytes_out\":%lld,\"bytes_in\":%lld,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
            "\"cpu_us_per_request\":%.2f,\"curl\":\"%s\"}\n",
            o.connections, body_size, t.done, t.ok, t.non_200, t.errors, t.short_uploads, secs, rps,
            bps, t.body_bytes_out, t.bytes_in, user, sys, per_request_us,
            curl_version_info(CURLVERSION_NOW)->version);
    if (t.non_200 > 0)
        fprintf(stderr, "salvo_limit_client: %lld response(s) not HTTP 200 (last: %ld)\n",
                t.non_200, t.last_status);
    if (t.errors > 0)
        fprintf(stderr, "salvo_limit_client: %lld transfer error(s) (last: %s)\n", t.errors,
                curl_easy_strerror(t.last_error));

    for (long i = 0; i < o.connections; ++i) {
        if (!handles[i]) continue;
        curl_multi_remove_handle(multi, handles[i]);
        curl_easy_cleanup(handles[i]);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(handles);
    free(body);
    if (t.short_uploads > 0)
        fprintf(stderr,
                "salvo_limit_client: %lld request(s) ended before the whole body was sent\n",
                t.short_uploads);
    return t.non_200 > 0 || t.errors > 0 || t.short_uploads > 0 || t.done == 0 ? 1 : 0;
}
