#include "redis_asio.hpp"

#include <boost/system/error_code.hpp>

namespace salvo::quota::detail {

namespace {

using link_ptr = std::shared_ptr<redis_asio_link>;

void arm_read(const link_ptr& l);
void arm_write(const link_ptr& l);

void arm_read(const link_ptr& l) {
    if (l->reading || l->ac == nullptr || !l->want_read) return;
    l->reading = true;
    l->fd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [l](boost::system::error_code ec) {
                         l->reading = false;
                         if (ec || l->ac == nullptr || !l->want_read) return;
                         redisAsyncHandleRead(l->ac);  // may free the context
                         arm_read(l);
                     });
}

void arm_write(const link_ptr& l) {
    if (l->writing || l->ac == nullptr || !l->want_write) return;
    l->writing = true;
    l->fd.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                     [l](boost::system::error_code ec) {
                         l->writing = false;
                         if (ec || l->ac == nullptr || !l->want_write) return;
                         redisAsyncHandleWrite(l->ac);  // may free the context
                         arm_write(l);
                     });
}

redis_asio_link* of(void* p) {
    return static_cast<redis_asio_link*>(p);
}

void add_read(void* p) {
    auto* l = of(p);
    l->want_read = true;
    arm_read(l->self);
}
void del_read(void* p) {
    of(p)->want_read = false;
}
void add_write(void* p) {
    auto* l = of(p);
    l->want_write = true;
    arm_write(l->self);
}
void del_write(void* p) {
    of(p)->want_write = false;
}

// hiredis is freeing the context and will close the fd itself.
void cleanup(void* p) {
    auto* l = of(p);
    l->ac = nullptr;
    l->want_read = l->want_write = false;
    boost::system::error_code ignored;
    l->fd.cancel(ignored);  // pending handlers run with operation_aborted
    (void)l->fd.release();
    link_ptr keep = std::move(l->self);  // the handlers hold their own copies
}

}  // namespace

bool attach(redisAsyncContext* ac, boost::asio::io_context& io) {
    if (ac->ev.data != nullptr) return false;
    auto l = std::make_shared<redis_asio_link>(io);
    boost::system::error_code ec;
    l->fd.assign(ac->c.fd, ec);
    if (ec) return false;
    l->ac = ac;
    l->self = l;
    ac->ev.data = l.get();
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return true;
}

}  // namespace salvo::quota::detail
