/* relay_floor: the least the node's I/O path can cost. It relays the node's frames over
 * loopback TCP through the node's thread hand-offs (an epoll event loop reads frames, a
 * bounded queue under a lock takes them to N workers, each worker hands its result back
 * through a locked inbox and an eventfd wake-up, the loop writes them on) with no
 * cryptography: a worker only reads the packet and writes 8 bytes of it.
 *
 *   relay_floor [--workers 0,1,2] [--rates 5000,10000,20000] [--seconds 3] [--warmup 0.5]
 *       Self-contained: a Poisson load generator and a sink in the same process, each on its
 *       own thread; prints, per worker count and rate, the relay threads' CPU per packet
 *       (event loop and workers apart), wake-ups per packet and the hop latency. Workers 0:
 *       the loop touches and writes each packet itself, no hand-off (a single-threaded relay).
 *   relay_floor --relay --listen PORT --forward PORT [--workers N] [--metrics-port PORT]
 *       Only the relay, driven from outside like the node (`loopix bench node`): relays
 *       127.0.0.1:listen to 127.0.0.1:forward until SIGTERM or SIGINT, ignores SIGUSR1 (the
 *       benchmark's "new replay epoch"), serves its counters as Prometheus text on the
 *       metrics port, and prints its CPU per packet when it stops.
 *
 * Common: [--packet-bytes B] (default: lsx_packet_bytes of the default geometry)
 *         [--buffers 16384] [--queue-limit 2048] [--outbound-limit 1024], the node's defaults.
 *         [--seal-links]: the floor with link encryption. The node's links are Noise: each frame
 *         is opened as it arrives and sealed as it leaves, with ChaCha20-Poly1305 (libsodium's
 *         crypto_aead_chacha20poly1305_ietf), on the event loop. Here the loop runs that AEAD
 *         once on each packet it takes in (in place of the copy into the slab buffer) and once
 *         on each it writes out (in place of the copy into the outbound buffer), with one key
 *         and one nonce: the second pass undoes the first (ChaCha20 is an XOR), so the bytes
 *         on the wire stay plain and whatever drives the relay needs no keys. An open costs
 *         what a seal costs (the same keystream and MAC over the same bytes); left out are the
 *         frame's 6 header bytes and the 18 bytes of tag and length per message.
 *
 * What is kept from the node, and why each is part of the floor (docs/node.md):
 * - one event loop thread for reading and writing (the node's default on up to four cores);
 *   reads of up to 64 KiB, at most 16 per readiness (NIO's largest read, the node's
 *   maxMessagesPerRead); every packet copied out of the read buffer into a slab buffer;
 * - admission reads the queue length without the lock; the batch of a read burst (at most 64)
 *   is handed over under the lock, waking as many idle workers as it brings packets;
 * - WakePolicy: a worker wakes the loop at once while the backlog is short, else once
 *   min(16, backlog / 4) results wait; a worker that runs out of work wakes the loop for
 *   whatever waits; the loop takes in its inbox after each read burst without being woken;
 * - one outbound connection with TCP_NODELAY, frames gathered into one buffer per write.
 * What is left out: the crypto, the replay filter, the delay heap and timers (every packet
 * here has zero delay), the AQM controller (the queue is plain tail drop at its limit),
 * frame deadlines and keep-alives, metrics histograms. Memory is bounded: the slab, three
 * fixed queues and one read buffer per connection (at most 1024 connections). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "loopix_sphinx.h"

/* docs/wire-protocol.md: length (4, big-endian; counts version, type and body), version, type. */
#define FRAME_PREFIX_BYTES 4
#define FRAME_HEADER_BYTES 6
#define WIRE_VERSION 0x01
#define FRAME_PACKET 0x01
#define FRAME_KEEPALIVE 0x02

#define READ_BYTES 65536   /* NIO's adaptive receive allocator at its largest */
#define READS_PER_WAKE 16  /* the node's maxMessagesPerRead */
#define BATCH_LIMIT 64     /* InboundPacketHandler: hand over per read burst, or every 64 */
#define MAX_UNWOKEN 16     /* WakePolicy.maxUnwoken */
#define FLUSH_FRAMES 64    /* frames gathered into one outbound write */
#define MAX_CONNECTIONS 1024
#define RECONNECT_NS 50000000ull
#define EPOLL_EVENTS 64

/* Where the packet's own bytes are free for the self-contained mode's marks (the relay
 * never reads them): send time at 8, sequence number at 16; the worker writes the last 8. */
#define MARK_SENT_OFFSET 8
#define MARK_SEQUENCE_OFFSET 16

enum drop_cause {
    DROP_QUEUE_FULL,
    DROP_NO_BUFFER,
    DROP_OUTBOUND_QUEUE_FULL,
    DROP_OUTBOUND_LOST,
    DROP_BAD_FRAME,
    DROP_TRUNCATED_FRAME,
    DROP_CONNECTION_LIMIT,
    DROP_CAUSES
};
static const char *const drop_names[DROP_CAUSES] = {"queue_full",  "no_buffer",       "outbound_queue_full", "outbound_lost",
                                                    "bad_frame",   "truncated_frame", "connection_limit"};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double clock_seconds(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds a thread has used so far (any thread of this process). */
static double thread_cpu_seconds(pthread_t thread) {
    clockid_t clock;
    if (pthread_getcpuclockid(thread, &clock) != 0) return 0;
    return clock_seconds(clock);
}

static void sleep_seconds(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint32_t load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A counter with one writer: a plain load and store, no locked instruction on the packet path. */
static void bump(_Atomic uint64_t *counter, uint64_t n) {
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

static uint64_t read_counter(_Atomic uint64_t *counter) { return atomic_load_explicit(counter, memory_order_relaxed); }

static int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* A listening socket on 127.0.0.1:port (0: any); *bound gets the port. */
static int listen_loopback(uint16_t port, uint16_t *bound) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

/* A blocking connection to 127.0.0.1:port with TCP_NODELAY, or -1. */
static int connect_loopback(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* ---- the relay ---------------------------------------------------------- */

/* A FIFO of slab slot numbers with a fixed capacity. */
typedef struct slot_ring {
    uint32_t *items;
    uint32_t capacity, head, count;
} slot_ring;

static bool ring_init(slot_ring *r, uint32_t capacity) {
    r->items = calloc(capacity, sizeof *r->items);
    r->capacity = capacity;
    r->head = r->count = 0;
    return r->items != NULL;
}

static void ring_push(slot_ring *r, uint32_t slot) {
    r->items[(r->head + r->count) % r->capacity] = slot;
    r->count++;
}

static uint32_t ring_pop(slot_ring *r) {
    uint32_t slot = r->items[r->head];
    r->head = (r->head + 1) % r->capacity;
    r->count--;
    return slot;
}

typedef struct relay_config {
    uint16_t listen_port; /* 0: any */
    uint16_t forward_port;
    uint16_t metrics_port; /* 0: none */
    int workers;
    size_t packet_bytes;
    uint32_t buffers;
    uint32_t queue_limit;
    uint32_t outbound_limit;
    bool seal_links; /* --seal-links */
} relay_config;

/* What epoll reports on: every registered object starts with one of these. */
enum endpoint_kind { ENDPOINT_LISTENER, ENDPOINT_WAKE, ENDPOINT_OUTBOUND, ENDPOINT_CONNECTION };
typedef struct endpoint {
    enum endpoint_kind kind;
    int fd;
} endpoint;

typedef struct connection {
    endpoint endpoint; /* first: epoll's pointer is the connection's */
    uint32_t index;    /* in relay.connections */
    size_t filled;
    uint8_t buffer[]; /* READ_BYTES + one frame */
} connection;

typedef struct relay {
    relay_config config;
    size_t frame_bytes;
    size_t connection_buffer_bytes;
    uint8_t *slab; /* buffers × packet_bytes */
    /* --seal-links: one key and one nonce for every pass (see the header comment). */
    uint8_t link_key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    uint8_t link_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

    /* The crypto queue, as CryptoQueue: workers take one packet at a time. */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_ready;
    slot_ring queue;
    int idle_workers;
    int workers_signalled; /* signalled and not yet awake */
    bool stopping;
    _Atomic uint32_t queue_length; /* read by admission without the lock */

    /* The scheduler's inbox, as DelayScheduler's: swapped whole by the loop. */
    pthread_mutex_t inbox_lock;
    uint32_t *inbox, *taken;
    uint32_t inbox_count;
    bool wake_pending;

    /* Owned by the loop thread. */
    int epoll_fd;
    endpoint listener, wake, outbound;
    uint16_t port;
    uint32_t *free_slots;
    uint32_t free_count;
    connection **connections;
    uint32_t connection_count;
    connection **closed; /* freed after the epoll batch that closed them */
    uint32_t closed_count;
    slot_ring outbound_queue;
    uint8_t *out_buffer;
    size_t out_length, out_offset;
    bool want_write;
    uint64_t reconnect_at;

    pthread_t loop_thread, metrics_thread;
    pthread_t *worker_threads;
    int metrics_fd;
    _Atomic bool stop;

    /* Counters, each with one writer (the loop, or one worker). */
    _Atomic uint64_t packets_in, packets_out, loop_wakes, drops[DROP_CAUSES];
    _Atomic uint64_t *worker_sleeps, *loop_signals; /* one per worker */
    _Atomic uint64_t touched;                       /* keeps the workers' reads alive */
} relay;

typedef struct worker_arg {
    relay *relay;
    int index;
} worker_arg;

static void free_slot(relay *r, uint32_t slot) { r->free_slots[r->free_count++] = slot; }

static uint8_t *slot_bytes(relay *r, uint32_t slot) { return r->slab + (size_t)slot * r->config.packet_bytes; }

/* A packet from `from` into `to`: copied, or with --seal-links put through the links' AEAD
 * (what opening a frame as it arrives, or sealing it as it leaves, costs the node's loop). */
static void carry_packet(relay *r, uint8_t *to, const uint8_t *from) {
    if (!r->config.seal_links) {
        memcpy(to, from, r->config.packet_bytes);
        return;
    }
    uint8_t tag[crypto_aead_chacha20poly1305_ietf_ABYTES];
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(to, tag, NULL, from, r->config.packet_bytes, NULL, 0, NULL, r->link_nonce,
                                                       r->link_key);
}

static void signal_loop(relay *r) {
    uint64_t one = 1;
    while (write(r->wake.fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

/* WakePolicy 1: a worker hands a result over. */
static void hand_over(relay *r, int worker, uint32_t slot, uint32_t backlog) {
    uint32_t threshold = backlog / 4;
    if (threshold < 1) threshold = 1;
    if (threshold > MAX_UNWOKEN) threshold = MAX_UNWOKEN;
    pthread_mutex_lock(&r->inbox_lock);
    r->inbox[r->inbox_count++] = slot;
    bool wake = !r->wake_pending && r->inbox_count >= threshold;
    if (wake) r->wake_pending = true;
    pthread_mutex_unlock(&r->inbox_lock);
    if (wake) {
        signal_loop(r);
        bump(&r->loop_signals[worker], 1);
    }
}

/* WakePolicy 2: a worker ran out of work. */
static void wake_if_waiting(relay *r, int worker) {
    pthread_mutex_lock(&r->inbox_lock);
    bool wake = !r->wake_pending && r->inbox_count > 0;
    if (wake) r->wake_pending = true;
    pthread_mutex_unlock(&r->inbox_lock);
    if (wake) {
        signal_loop(r);
        bump(&r->loop_signals[worker], 1);
    }
}

/* In place of the crypto: read the whole packet and write 8 bytes of it, as an unwrap in
 * place touches every cache line; the marks of the self-contained mode stay as they are. */
static uint64_t touch_packet(uint8_t *packet, size_t bytes) {
    uint64_t sum = 0, word;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        memcpy(&word, packet + i, 8);
        sum ^= word;
    }
    memcpy(packet + bytes - 8, &sum, 8);
    return sum;
}

static void *worker_main(void *arg) {
    relay *r = ((worker_arg *)arg)->relay;
    int worker = ((worker_arg *)arg)->index;
    free(arg);
    uint64_t sum = 0;
    pthread_mutex_lock(&r->queue_lock);
    while (!r->stopping) {
        if (r->queue.count == 0) {
            pthread_mutex_unlock(&r->queue_lock);
            wake_if_waiting(r, worker);
            pthread_mutex_lock(&r->queue_lock);
            if (r->queue.count == 0 && !r->stopping) {
                r->idle_workers++;
                bump(&r->worker_sleeps[worker], 1);
                pthread_cond_wait(&r->queue_ready, &r->queue_lock);
                r->idle_workers--;
                if (r->workers_signalled > 0) r->workers_signalled--;
            }
            continue;
        }
        uint32_t slot = ring_pop(&r->queue);
        uint32_t backlog = r->queue.count;
        atomic_store_explicit(&r->queue_length, backlog, memory_order_relaxed);
        pthread_mutex_unlock(&r->queue_lock);
        sum += touch_packet(slot_bytes(r, slot), r->config.packet_bytes);
        hand_over(r, worker, slot, backlog);
        pthread_mutex_lock(&r->queue_lock);
    }
    pthread_mutex_unlock(&r->queue_lock);
    atomic_fetch_xor_explicit(&r->touched, sum, memory_order_relaxed);
    return NULL;
}

static void relay_inline(relay *r, const uint32_t *batch, uint32_t n);

/* From the loop: a read burst's packets into the queue (admission made room for them), and
 * as many idle workers woken as there are new packets. */
static void submit(relay *r, const uint32_t *batch, uint32_t n) {
    if (r->config.workers == 0) {
        relay_inline(r, batch, n);
        return;
    }
    pthread_mutex_lock(&r->queue_lock);
    for (uint32_t i = 0; i < n; i++) ring_push(&r->queue, batch[i]);
    atomic_store_explicit(&r->queue_length, r->queue.count, memory_order_relaxed);
    int spare = r->idle_workers - r->workers_signalled;
    for (int i = 0; i < spare && (uint32_t)i < n; i++) {
        pthread_cond_signal(&r->queue_ready);
        r->workers_signalled++;
    }
    pthread_mutex_unlock(&r->queue_lock);
}

static void set_write_interest(relay *r, bool on) {
    if (r->want_write == on || r->outbound.fd < 0) return;
    struct epoll_event ev = {.events = on ? EPOLLOUT : 0, .data.ptr = &r->outbound};
    epoll_ctl(r->epoll_fd, EPOLL_CTL_MOD, r->outbound.fd, &ev);
    r->want_write = on;
}

/* The link is gone: what it had not written is lost; reconnect after a pause. */
static void close_outbound(relay *r) {
    if (r->outbound.fd < 0) return;
    size_t unwritten = r->out_length - r->out_offset;
    bump(&r->drops[DROP_OUTBOUND_LOST], (unwritten + r->frame_bytes - 1) / r->frame_bytes);
    epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, r->outbound.fd, NULL);
    close(r->outbound.fd);
    r->outbound.fd = -1;
    r->want_write = false;
    r->out_length = r->out_offset = 0;
    r->reconnect_at = now_ns() + RECONNECT_NS;
}

static bool open_outbound(relay *r) {
    /* Blocking connect: to loopback it completes at once, or fails at once. */
    int fd = connect_loopback(r->config.forward_port);
    if (fd < 0 || set_nonblocking(fd) != 0) {
        if (fd >= 0) close(fd);
        r->reconnect_at = now_ns() + RECONNECT_NS;
        return false;
    }
    r->outbound.fd = fd;
    struct epoll_event ev = {.events = 0, .data.ptr = &r->outbound};
    epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    return true;
}

/* Frames what waits into one buffer and writes it, until everything is out or the socket is
 * full (then the loop waits for EPOLLOUT, and packets wait in the bounded outbound queue). */
static void flush(relay *r) {
    if (r->outbound.fd < 0) {
        if (r->outbound_queue.count == 0 || now_ns() < r->reconnect_at || !open_outbound(r)) return;
    }
    size_t capacity = FLUSH_FRAMES * r->frame_bytes;
    for (;;) {
        if (r->out_offset == r->out_length) {
            r->out_offset = r->out_length = 0;
            uint64_t framed = 0;
            while (r->outbound_queue.count > 0 && r->out_length + r->frame_bytes <= capacity) {
                uint32_t slot = ring_pop(&r->outbound_queue);
                uint8_t *frame = r->out_buffer + r->out_length;
                store_be32(frame, (uint32_t)(2 + r->config.packet_bytes));
                frame[4] = WIRE_VERSION;
                frame[5] = FRAME_PACKET;
                carry_packet(r, frame + FRAME_HEADER_BYTES, slot_bytes(r, slot));
                free_slot(r, slot);
                r->out_length += r->frame_bytes;
                framed++;
            }
            bump(&r->packets_out, framed);
            if (r->out_length == 0) break;
        }
        ssize_t n = send(r->outbound.fd, r->out_buffer + r->out_offset, r->out_length - r->out_offset, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_write_interest(r, true);
                return;
            }
            close_outbound(r);
            return;
        }
        r->out_offset += (size_t)n;
    }
    set_write_interest(r, false);
}

/* WakePolicy 3 and the wake-up itself: the inbox, swapped whole, onto the outbound queue. */
static void take_inbox(relay *r) {
    pthread_mutex_lock(&r->inbox_lock);
    uint32_t *packets = r->inbox, count = r->inbox_count;
    r->inbox = r->taken;
    r->inbox_count = 0;
    r->wake_pending = false;
    pthread_mutex_unlock(&r->inbox_lock);
    r->taken = packets;
    for (uint32_t i = 0; i < count; i++) {
        if (r->outbound_queue.count < r->outbound_queue.capacity) {
            ring_push(&r->outbound_queue, packets[i]);
        } else {
            free_slot(r, packets[i]);
            bump(&r->drops[DROP_OUTBOUND_QUEUE_FULL], 1);
        }
    }
    if (count > 0 && !r->want_write) flush(r);
}

/* Workers 0: the loop touches each packet itself and writes it on, with no hand-off at all
 * (the single-threaded relay that the hand-offs are measured against). */
static void relay_inline(relay *r, const uint32_t *batch, uint32_t n) {
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += touch_packet(slot_bytes(r, batch[i]), r->config.packet_bytes);
        if (r->outbound_queue.count < r->outbound_queue.capacity) {
            ring_push(&r->outbound_queue, batch[i]);
        } else {
            free_slot(r, batch[i]);
            bump(&r->drops[DROP_OUTBOUND_QUEUE_FULL], 1);
        }
    }
    atomic_fetch_xor_explicit(&r->touched, sum, memory_order_relaxed);
    if (!r->want_write) flush(r);
}

static void close_connection(relay *r, connection *c) {
    epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, c->endpoint.fd, NULL);
    close(c->endpoint.fd);
    c->endpoint.fd = -1;
    connection *last = r->connections[--r->connection_count];
    r->connections[c->index] = last;
    last->index = c->index;
    r->closed[r->closed_count++] = c;
}

static void accept_all(relay *r) {
    for (;;) {
        int fd = accept4(r->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or a connection that died before it was taken */
        connection *c = r->connection_count < MAX_CONNECTIONS ? malloc(sizeof *c + r->connection_buffer_bytes) : NULL;
        if (c == NULL) {
            close(fd);
            bump(&r->drops[DROP_CONNECTION_LIMIT], 1);
            continue;
        }
        c->endpoint = (endpoint){ENDPOINT_CONNECTION, fd};
        c->filled = 0;
        c->index = r->connection_count;
        r->connections[r->connection_count++] = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* Admission as the node's, without the controller: refused while the queue (with the burst
 * read so far) is at its limit or no buffer is free; else copied into a slab buffer. */
static void admit(relay *r, const uint8_t *packet, uint32_t *batch, uint32_t *batched) {
    uint32_t queued = atomic_load_explicit(&r->queue_length, memory_order_relaxed) + *batched;
    if (queued >= r->config.queue_limit) {
        bump(&r->drops[DROP_QUEUE_FULL], 1);
        return;
    }
    if (r->free_count == 0) {
        bump(&r->drops[DROP_NO_BUFFER], 1);
        return;
    }
    uint32_t slot = r->free_slots[--r->free_count];
    carry_packet(r, slot_bytes(r, slot), packet);
    batch[(*batched)++] = slot;
    bump(&r->packets_in, 1);
    if (*batched == BATCH_LIMIT) {
        submit(r, batch, *batched);
        *batched = 0;
    }
}

/* The complete frames in a connection's buffer; false for a frame the protocol refuses
 * (judged from its header, before its body arrives). */
static bool parse_frames(relay *r, connection *c, uint32_t *batch, uint32_t *batched) {
    size_t offset = 0;
    while (c->filled - offset >= FRAME_PREFIX_BYTES) {
        const uint8_t *frame = c->buffer + offset;
        uint32_t length = load_be32(frame);
        if (length < 2 || length > 2 + r->config.packet_bytes) return false;
        if (c->filled - offset >= FRAME_HEADER_BYTES) {
            bool packet = frame[5] == FRAME_PACKET && length == 2 + r->config.packet_bytes;
            bool keepalive = frame[5] == FRAME_KEEPALIVE && length == 2;
            if (frame[4] != WIRE_VERSION || !(packet || keepalive)) return false;
        }
        if (c->filled - offset < FRAME_PREFIX_BYTES + (size_t)length) break;
        if (frame[5] == FRAME_PACKET) admit(r, frame + FRAME_HEADER_BYTES, batch, batched);
        offset += FRAME_PREFIX_BYTES + length;
    }
    if (offset > 0) {
        memmove(c->buffer, c->buffer + offset, c->filled - offset);
        c->filled -= offset;
    }
    return true;
}

static void read_burst(relay *r, connection *c) {
    uint32_t batch[BATCH_LIMIT];
    uint32_t batched = 0;
    for (int reads = 0; reads < READS_PER_WAKE; reads++) {
        size_t room = r->connection_buffer_bytes - c->filled;
        ssize_t n = read(c->endpoint.fd, c->buffer + c->filled, room);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            if (c->filled > 0) bump(&r->drops[DROP_TRUNCATED_FRAME], 1);
            close_connection(r, c);
            break;
        }
        c->filled += (size_t)n;
        if (!parse_frames(r, c, batch, &batched)) {
            bump(&r->drops[DROP_BAD_FRAME], 1);
            close_connection(r, c);
            break;
        }
        if ((size_t)n < room) break; /* the socket is empty: no read just to hear EAGAIN */
    }
    if (batched > 0) submit(r, batch, batched);
    /* Awake anyway: take in what the workers left, without a wake-up. */
    pthread_mutex_lock(&r->inbox_lock);
    bool waiting = r->inbox_count > 0;
    pthread_mutex_unlock(&r->inbox_lock);
    if (waiting) take_inbox(r);
}

static void *loop_main(void *arg) {
    relay *r = arg;
    struct epoll_event events[EPOLL_EVENTS];
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        int timeout = -1;
        if (r->outbound.fd < 0 && r->outbound_queue.count > 0) {
            uint64_t now = now_ns();
            timeout = now >= r->reconnect_at ? 0 : (int)((r->reconnect_at - now) / 1000000) + 1;
        }
        int n = epoll_wait(r->epoll_fd, events, EPOLL_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("relay_floor: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            endpoint *e = events[i].data.ptr;
            if (e->fd < 0) continue; /* closed earlier in this batch */
            switch (e->kind) {
            case ENDPOINT_LISTENER:
                accept_all(r);
                break;
            case ENDPOINT_WAKE: {
                uint64_t count;
                if (read(e->fd, &count, sizeof count) > 0) bump(&r->loop_wakes, 1);
                take_inbox(r);
                break;
            }
            case ENDPOINT_OUTBOUND:
                if (events[i].events & (EPOLLERR | EPOLLHUP))
                    close_outbound(r);
                else
                    flush(r);
                break;
            case ENDPOINT_CONNECTION:
                read_burst(r, (connection *)e);
                break;
            }
        }
        for (uint32_t i = 0; i < r->closed_count; i++) free(r->closed[i]);
        r->closed_count = 0;
        if (r->outbound.fd < 0 && r->outbound_queue.count > 0) flush(r);
    }
    return NULL;
}

/* Prometheus text for `loopix bench node`'s scrapes: the node's counter names. */
static int metrics_text(relay *r, char *text, size_t size) {
    int n = snprintf(text, size,
                     "# TYPE loopix_packets_in_total counter\nloopix_packets_in_total %" PRIu64 "\n"
                     "# TYPE loopix_packets_out_total counter\nloopix_packets_out_total %" PRIu64 "\n"
                     "# TYPE loopix_packets_dropped_total counter\n",
                     read_counter(&r->packets_in), read_counter(&r->packets_out));
    for (int i = 0; i < DROP_CAUSES && n > 0 && (size_t)n < size; i++)
        n += snprintf(text + n, size - (size_t)n, "loopix_packets_dropped_total{cause=\"%s\"} %" PRIu64 "\n", drop_names[i],
                      read_counter(&r->drops[i]));
    return n;
}

static void *metrics_main(void *arg) {
    relay *r = arg;
    char request[4096], body[2048], answer[2560];
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        struct pollfd p = {.fd = r->metrics_fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        int fd = accept4(r->metrics_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        struct timeval timeout = {.tv_sec = 1};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        /* One request per connection, answered once its headers are in. */
        size_t got = 0;
        while (got < sizeof request - 1) {
            ssize_t n = read(fd, request + got, sizeof request - 1 - got);
            if (n <= 0) break;
            got += (size_t)n;
            request[got] = 0;
            if (strstr(request, "\r\n\r\n") != NULL) break;
        }
        int length = metrics_text(r, body, sizeof body);
        int total = snprintf(answer, sizeof answer,
                             "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\n"
                             "Connection: close\r\n\r\n%s",
                             length, body);
        for (int sent = 0; sent < total;) {
            ssize_t n = send(fd, answer + sent, (size_t)(total - sent), MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += (int)n;
        }
        close(fd);
    }
    return NULL;
}

static void relay_free(relay *r) {
    if (r->connections != NULL)
        for (uint32_t i = 0; i < r->connection_count; i++) {
            close(r->connections[i]->endpoint.fd);
            free(r->connections[i]);
        }
    if (r->outbound.fd >= 0) close(r->outbound.fd);
    if (r->listener.fd >= 0) close(r->listener.fd);
    if (r->wake.fd >= 0) close(r->wake.fd);
    if (r->epoll_fd >= 0) close(r->epoll_fd);
    if (r->metrics_fd >= 0) close(r->metrics_fd);
    free(r->slab);
    free(r->queue.items);
    free(r->inbox);
    free(r->taken);
    free(r->free_slots);
    free(r->connections);
    free(r->closed);
    free(r->outbound_queue.items);
    free(r->out_buffer);
    free(r->worker_threads);
    free((void *)r->worker_sleeps);
    free((void *)r->loop_signals);
    pthread_mutex_destroy(&r->queue_lock);
    pthread_cond_destroy(&r->queue_ready);
    pthread_mutex_destroy(&r->inbox_lock);
}

/* Binds, allocates everything the relay will ever use, and starts its threads. */
static int relay_start(relay *r, const relay_config *config) {
    memset(r, 0, sizeof *r);
    r->config = *config;
    r->frame_bytes = FRAME_HEADER_BYTES + config->packet_bytes;
    r->connection_buffer_bytes = READ_BYTES + r->frame_bytes;
    r->epoll_fd = r->listener.fd = r->wake.fd = r->outbound.fd = r->metrics_fd = -1;
    r->listener.kind = ENDPOINT_LISTENER;
    r->wake.kind = ENDPOINT_WAKE;
    r->outbound.kind = ENDPOINT_OUTBOUND;
    pthread_mutex_init(&r->queue_lock, NULL);
    pthread_cond_init(&r->queue_ready, NULL);
    pthread_mutex_init(&r->inbox_lock, NULL);
    uint32_t buffers = config->buffers;
    r->slab = malloc((size_t)buffers * config->packet_bytes);
    r->inbox = calloc(buffers, sizeof *r->inbox);
    r->taken = calloc(buffers, sizeof *r->taken);
    r->free_slots = calloc(buffers, sizeof *r->free_slots);
    r->connections = calloc(MAX_CONNECTIONS, sizeof *r->connections);
    r->closed = calloc(MAX_CONNECTIONS, sizeof *r->closed);
    r->out_buffer = malloc(FLUSH_FRAMES * r->frame_bytes);
    size_t workers = config->workers > 0 ? (size_t)config->workers : 1; /* calloc(0) may give NULL */
    r->worker_threads = calloc(workers, sizeof *r->worker_threads);
    r->worker_sleeps = calloc(workers, sizeof *r->worker_sleeps);
    r->loop_signals = calloc(workers, sizeof *r->loop_signals);
    if (!ring_init(&r->queue, config->queue_limit) || !ring_init(&r->outbound_queue, config->outbound_limit) ||
        r->slab == NULL || r->inbox == NULL || r->taken == NULL || r->free_slots == NULL || r->connections == NULL ||
        r->closed == NULL || r->out_buffer == NULL || r->worker_threads == NULL || r->worker_sleeps == NULL ||
        r->loop_signals == NULL) {
        fprintf(stderr, "relay_floor: out of memory\n");
        relay_free(r);
        return -1;
    }
    randombytes_buf(r->link_key, sizeof r->link_key);
    /* LIFO: the buffer freed last is reused first, and stays in cache. */
    for (uint32_t i = 0; i < buffers; i++) r->free_slots[i] = buffers - 1 - i;
    r->free_count = buffers;

    r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    r->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->listener.fd = listen_loopback(config->listen_port, &r->port);
    if (r->epoll_fd < 0 || r->wake.fd < 0 || r->listener.fd < 0 || set_nonblocking(r->listener.fd) != 0) {
        fprintf(stderr, "relay_floor: cannot listen on 127.0.0.1:%u: %s\n", config->listen_port, strerror(errno));
        relay_free(r);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &r->listener};
    epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->listener.fd, &ev);
    ev.data.ptr = &r->wake;
    epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->wake.fd, &ev);
    if (config->metrics_port != 0) {
        uint16_t bound;
        r->metrics_fd = listen_loopback(config->metrics_port, &bound);
        if (r->metrics_fd < 0) {
            fprintf(stderr, "relay_floor: cannot listen on 127.0.0.1:%u: %s\n", config->metrics_port, strerror(errno));
            relay_free(r);
            return -1;
        }
    }

    pthread_create(&r->loop_thread, NULL, loop_main, r);
    pthread_setname_np(r->loop_thread, "floor-loop");
    for (int i = 0; i < config->workers; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        *arg = (worker_arg){r, i};
        pthread_create(&r->worker_threads[i], NULL, worker_main, arg);
        char name[16];
        snprintf(name, sizeof name, "floor-worker%u", (unsigned)i % 100);
        pthread_setname_np(r->worker_threads[i], name);
    }
    if (r->metrics_fd >= 0) {
        pthread_create(&r->metrics_thread, NULL, metrics_main, r);
        pthread_setname_np(r->metrics_thread, "floor-metrics");
    }
    return 0;
}

/* Stops every thread, then frees everything (packets still inside are dropped with it). */
static void relay_stop(relay *r) {
    atomic_store(&r->stop, true);
    signal_loop(r);
    pthread_join(r->loop_thread, NULL);
    pthread_mutex_lock(&r->queue_lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->queue_ready);
    pthread_mutex_unlock(&r->queue_lock);
    for (int i = 0; i < r->config.workers; i++) pthread_join(r->worker_threads[i], NULL);
    if (r->metrics_fd >= 0) pthread_join(r->metrics_thread, NULL);
    relay_free(r);
}

/* The relay's threads' CPU and counters at one instant. */
typedef struct relay_sample {
    double loop_cpu, workers_cpu;
    uint64_t in, out, loop_wakes, worker_sleeps, loop_signals, drops;
} relay_sample;

static relay_sample relay_sample_now(relay *r) {
    relay_sample s = {.loop_cpu = thread_cpu_seconds(r->loop_thread)};
    for (int i = 0; i < r->config.workers; i++) {
        s.workers_cpu += thread_cpu_seconds(r->worker_threads[i]);
        s.worker_sleeps += read_counter(&r->worker_sleeps[i]);
        s.loop_signals += read_counter(&r->loop_signals[i]);
    }
    s.in = read_counter(&r->packets_in);
    s.out = read_counter(&r->packets_out);
    s.loop_wakes = read_counter(&r->loop_wakes);
    for (int i = 0; i < DROP_CAUSES; i++) s.drops += read_counter(&r->drops[i]);
    return s;
}

/* ---- the self-contained mode's load generator and sink --------------------- */

#define HISTOGRAM_BUCKETS 200000 /* 1 µs each: up to 200 ms */

/* Receives what the relay forwards; per packet, its hop latency from the send time that the
 * generator wrote into it. */
typedef struct sink {
    int listen_fd;
    uint16_t port;
    size_t frame_bytes;
    pthread_t thread;
    _Atomic bool stop;
    pthread_mutex_t lock; /* everything below */
    uint64_t window_start, window_end;
    uint64_t received_in_window, received, latencies, beyond;
    uint32_t *histogram;
} sink;

static void sink_record(sink *s, uint64_t received_at, const uint8_t *packet) {
    uint64_t sent;
    memcpy(&sent, packet + MARK_SENT_OFFSET, sizeof sent);
    s->received++;
    if (received_at >= s->window_start && received_at < s->window_end) s->received_in_window++;
    if (sent >= s->window_start && sent < s->window_end && received_at >= sent) {
        uint64_t us = (received_at - sent) / 1000;
        if (us < HISTOGRAM_BUCKETS)
            s->histogram[us]++;
        else
            s->beyond++;
        s->latencies++;
    }
}

static void *sink_main(void *arg) {
    sink *s = arg;
    enum { MAX_LINKS = 8 };
    struct pollfd fds[1 + MAX_LINKS];
    uint8_t *buffers[1 + MAX_LINKS];
    size_t filled[1 + MAX_LINKS];
    size_t capacity = READ_BYTES + s->frame_bytes;
    int count = 1;
    fds[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        if (poll(fds, (nfds_t)count, 50) <= 0) continue;
        if (fds[0].revents & POLLIN) {
            int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && count < 1 + MAX_LINKS && (buffers[count] = malloc(capacity)) != NULL) {
                fds[count] = (struct pollfd){.fd = fd, .events = POLLIN};
                filled[count++] = 0;
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (int i = 1; i < count; i++) {
            if (fds[i].revents == 0) continue;
            ssize_t n = read(fds[i].fd, buffers[i] + filled[i], capacity - filled[i]);
            uint64_t now = now_ns();
            if (n <= 0) {
                close(fds[i].fd);
                free(buffers[i]);
                count--;
                fds[i] = fds[count];
                buffers[i] = buffers[count];
                filled[i] = filled[count];
                i--;
                continue;
            }
            filled[i] += (size_t)n;
            size_t offset = 0;
            pthread_mutex_lock(&s->lock);
            while (filled[i] - offset >= FRAME_HEADER_BYTES) {
                size_t length = load_be32(buffers[i] + offset);
                if (filled[i] - offset < FRAME_PREFIX_BYTES + length) break;
                if (buffers[i][offset + 5] == FRAME_PACKET && length == s->frame_bytes - FRAME_PREFIX_BYTES)
                    sink_record(s, now, buffers[i] + offset + FRAME_HEADER_BYTES);
                offset += FRAME_PREFIX_BYTES + length;
            }
            pthread_mutex_unlock(&s->lock);
            memmove(buffers[i], buffers[i] + offset, filled[i] - offset);
            filled[i] -= offset;
        }
    }
    for (int i = 1; i < count; i++) {
        close(fds[i].fd);
        free(buffers[i]);
    }
    return NULL;
}

static int sink_start(sink *s, size_t frame_bytes) {
    memset(s, 0, sizeof *s);
    s->frame_bytes = frame_bytes;
    s->histogram = calloc(HISTOGRAM_BUCKETS, sizeof *s->histogram);
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = listen_loopback(0, &s->port);
    if (s->histogram == NULL || s->listen_fd < 0) return -1;
    pthread_create(&s->thread, NULL, sink_main, s);
    pthread_setname_np(s->thread, "floor-sink");
    return 0;
}

static void sink_stop(sink *s) {
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    free(s->histogram);
    pthread_mutex_destroy(&s->lock);
}

/* Forgets everything; the window is open until sink_window sets it. */
static void sink_reset(sink *s) {
    pthread_mutex_lock(&s->lock);
    s->window_start = s->window_end = UINT64_MAX;
    s->received_in_window = s->received = s->latencies = s->beyond = 0;
    memset(s->histogram, 0, HISTOGRAM_BUCKETS * sizeof *s->histogram);
    pthread_mutex_unlock(&s->lock);
}

static void sink_window(sink *s, uint64_t start, uint64_t end) {
    pthread_mutex_lock(&s->lock);
    s->window_start = start;
    s->window_end = end;
    pthread_mutex_unlock(&s->lock);
}

/* A latency quantile in µs (the bucket's middle), or NAN with no samples. */
static double sink_quantile(sink *s, double q) {
    pthread_mutex_lock(&s->lock);
    double result = NAN;
    if (s->latencies > 0) {
        uint64_t rank = (uint64_t)ceil(q * (double)s->latencies), seen = 0;
        if (rank < 1) rank = 1;
        result = (double)HISTOGRAM_BUCKETS; /* beyond the histogram */
        for (uint32_t us = 0; us < HISTOGRAM_BUCKETS; us++) {
            seen += s->histogram[us];
            if (seen >= rank) {
                result = us + 0.5;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return result;
}

/* Writes frames to the relay at Poisson times (open loop: the schedule never waits for the
 * relay), up to 64 due frames per send, like `loopix bench node`'s LoadGenerator. */
typedef struct generator {
    int fd;
    double rate, seconds;
    uint64_t seed;
    size_t frame_bytes;
    pthread_t thread;
    _Atomic uint64_t sent;
    double lag_max_ms, cpu_seconds;
} generator;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double exponential(uint64_t *state) {
    double u = (double)(splitmix64(state) >> 11) * 0x1.0p-53; /* [0, 1) */
    return -log1p(-u);
}

static void *generator_main(void *arg) {
    generator *g = arg;
    enum { RUN = 64 };
    uint8_t *frames = malloc(RUN * g->frame_bytes);
    if (frames == NULL) return NULL;
    uint64_t rng = g->seed;
    for (size_t i = 0; i < RUN * g->frame_bytes; i++) frames[i] = (uint8_t)splitmix64(&rng);
    for (int i = 0; i < RUN; i++) {
        uint8_t *frame = frames + (size_t)i * g->frame_bytes;
        store_be32(frame, (uint32_t)(g->frame_bytes - FRAME_PREFIX_BYTES));
        frame[4] = WIRE_VERSION;
        frame[5] = FRAME_PACKET;
    }
    double cpu_start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    uint64_t start = now_ns(), end = start + (uint64_t)(g->seconds * 1e9), sequence = 0;
    double next = (double)start, gap = 1e9 / g->rate;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= end) break;
        if (next > (double)now) {
            double ahead = next - (double)now;
            sleep_seconds((ahead < 2e6 ? ahead : 2e6) * 1e-9);
            continue;
        }
        int n = 0;
        while (next <= (double)now && n < RUN) {
            n++;
            next += exponential(&rng) * gap;
        }
        double lag = ((double)now - next) / 1e6;
        if (lag > g->lag_max_ms) g->lag_max_ms = lag;
        now = now_ns();
        for (int i = 0; i < n; i++) {
            uint8_t *packet = frames + (size_t)i * g->frame_bytes + FRAME_HEADER_BYTES;
            memcpy(packet + MARK_SENT_OFFSET, &now, sizeof now);
            memcpy(packet + MARK_SEQUENCE_OFFSET, &sequence, sizeof sequence);
            sequence++;
        }
        size_t total = (size_t)n * g->frame_bytes, offset = 0;
        while (offset < total) {
            ssize_t w = send(g->fd, frames + offset, total - offset, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) goto done;
            offset += (size_t)w;
        }
        atomic_fetch_add_explicit(&g->sent, (uint64_t)n, memory_order_relaxed);
    }
done:
    g->cpu_seconds = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    free(frames);
    return NULL;
}

/* The whole machine's busy and stolen CPU seconds so far (/proc/stat, all cores). */
static void machine_cpu(double *busy, double *steal) {
    *busy = *steal = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) return;
    unsigned long long v[8] = {0};
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
        double tick = (double)sysconf(_SC_CLK_TCK);
        *busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
        *steal = (double)v[7] / tick;
    }
    fclose(f);
}

static double load_average(void) {
    double load = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1) load = NAN;
        fclose(f);
    }
    return load;
}

static void print_machine(size_t packet_bytes, bool sealed) {
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
                snprintf(model, sizeof model, "%s", colon + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        }
        fclose(f);
    }
    printf("relay_floor: %s, %ld cores online, load average %.2f; %zu-byte packets (%zu-byte frames)%s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), load_average(), packet_bytes, packet_bytes + FRAME_HEADER_BYTES,
           sealed ? ", sealed links" : "");
}

/* One rate against a running relay: warm-up, then a measured window. */
static int measure_step(relay *r, sink *s, int workers, double rate, double seconds, double warmup) {
    generator g = {.rate = rate, .seconds = warmup + seconds, .seed = (uint64_t)rate * 2654435761u + (uint64_t)workers,
                   .frame_bytes = r->frame_bytes};
    g.fd = connect_loopback(r->port);
    if (g.fd < 0) {
        fprintf(stderr, "relay_floor: cannot connect to the relay\n");
        return -1;
    }
    sink_reset(s);
    pthread_create(&g.thread, NULL, generator_main, &g);
    pthread_setname_np(g.thread, "floor-generator");
    sleep_seconds(warmup);
    relay_sample a = relay_sample_now(r);
    double busy0, steal0, self0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID), sink0 = thread_cpu_seconds(s->thread);
    machine_cpu(&busy0, &steal0);
    uint64_t sent0 = atomic_load(&g.sent), start = now_ns();
    sink_window(s, start, UINT64_MAX);
    sleep_seconds(seconds);
    uint64_t end = now_ns();
    sink_window(s, start, end);
    relay_sample b = relay_sample_now(r);
    double busy1, steal1, self1 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID), sink1 = thread_cpu_seconds(s->thread);
    machine_cpu(&busy1, &steal1);
    uint64_t sent1 = atomic_load(&g.sent);
    double load = load_average();
    pthread_join(g.thread, NULL);
    close(g.fd);
    sleep_seconds(0.2); /* what is in flight reaches the sink */

    double window = (double)(end - start) * 1e-9;
    pthread_mutex_lock(&s->lock);
    double relayed = (double)s->received_in_window;
    pthread_mutex_unlock(&s->lock);
    double per = relayed > 0 ? 1e6 / relayed : NAN; /* µs per packet, per CPU-second */
    double loop = (b.loop_cpu - a.loop_cpu) * per, work = (b.workers_cpu - a.workers_cpu) * per;
    double other = ((busy1 - busy0) - (self1 - self0)) / window;
    printf("%7d %9.0f %9.0f %9.0f %8.2f %8.2f %8.2f %7.2f %7.2f %7.2f %8.1f %8.1f %6" PRIu64 " %6.2f %6.2f %6.2f %5.1f %5.2f\n",
           workers, rate, (double)(sent1 - sent0) / window, relayed / window, loop + work, loop, work,
           (double)(b.loop_wakes - a.loop_wakes) / relayed, (double)(b.loop_signals - a.loop_signals) / relayed,
           (double)(b.worker_sleeps - a.worker_sleeps) / relayed, sink_quantile(s, 0.5), sink_quantile(s, 0.99),
           b.drops - a.drops, (sink1 - sink0) / window, other, (steal1 - steal0) / window, load, g.lag_max_ms);
    fflush(stdout);
    return 0;
}

/* ---- command line ---------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: relay_floor [--workers 0,1,2] [--rates 5000,10000,20000] [--seconds 3] [--warmup 0.5]\n"
            "       relay_floor --relay --listen PORT --forward PORT [--workers N] [--metrics-port PORT]\n"
            "       common: [--packet-bytes B] [--buffers 16384] [--queue-limit 2048] [--outbound-limit 1024] [--seal-links]\n");
    exit(2);
}

/* A comma-separated list of positive numbers into list[max]; returns how many. */
static int parse_list(const char *text, double *list, int max) {
    int n = 0;
    char *end;
    while (n < max) {
        double v = strtod(text, &end);
        if (end == text || !(v >= 0)) usage();
        list[n++] = v;
        if (*end == 0) return n;
        if (*end != ',') usage();
        text = end + 1;
    }
    usage();
    return 0;
}

static double parse_seconds(const char *text) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end != 0 || !(v >= 0 && v < 3600)) usage();
    return v;
}

static unsigned long parse_number(const char *text, unsigned long max) {
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != 0 || v > max) usage();
    return v;
}

static volatile sig_atomic_t stop_signal = 0;
static void on_stop(int number) { stop_signal = number; }

static int run_relay(relay_config config) {
    /* SIGTERM/SIGINT end the relay; SIGUSR1 (the node benchmark's new replay epoch) means
     * nothing here. Threads started below inherit a mask with all three blocked. */
    signal(SIGUSR1, SIG_IGN);
    sigset_t stops, previous;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    struct sigaction action = {.sa_handler = on_stop};
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    pthread_sigmask(SIG_BLOCK, &stops, &previous);
    relay r;
    if (relay_start(&r, &config) != 0) return 1;
    fprintf(stderr, "relay_floor: relaying 127.0.0.1:%u to 127.0.0.1:%u, %d workers, %zu-byte packets%s\n", r.port,
            config.forward_port, config.workers, config.packet_bytes, config.seal_links ? ", sealed links" : "");
    while (stop_signal == 0) sigsuspend(&previous);
    relay_sample s = relay_sample_now(&r);
    relay_stop(&r);
    double per = s.out > 0 ? 1e6 / (double)s.out : NAN;
    fprintf(stderr,
            "relay_floor: %" PRIu64 " in, %" PRIu64 " out, %" PRIu64 " dropped; CPU per packet %.2f µs (loop %.2f, workers %.2f)\n",
            s.in, s.out, s.drops, (s.loop_cpu + s.workers_cpu) * per, s.loop_cpu * per, s.workers_cpu * per);
    return 0;
}

int main(int argc, char **argv) {
    if (sodium_init() < 0) return 1;
    lsx_geometry geometry;
    if (lsx_geometry_init(&geometry, LSX_SUITE_V1, lsx_default_hops(), lsx_default_payload()) != LSX_OK) return 1;
    relay_config config = {.workers = 1, .packet_bytes = lsx_packet_bytes(&geometry), .buffers = 16384, .queue_limit = 2048,
                           .outbound_limit = 1024};
    double workers[16] = {0, 1, 2}, rates[64] = {5000, 10000, 20000};
    int worker_counts = 3, rate_count = 3;
    double seconds = 3, warmup = 0.5;
    bool relay_only = false, forward_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--relay") == 0) {
            relay_only = true;
            continue;
        }
        if (strcmp(a, "--seal-links") == 0) {
            config.seal_links = true;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (strcmp(a, "--workers") == 0)
            worker_counts = parse_list(v, workers, 16);
        else if (strcmp(a, "--rates") == 0)
            rate_count = parse_list(v, rates, 64);
        else if (strcmp(a, "--seconds") == 0)
            parse_list(v, &seconds, 1);
        else if (strcmp(a, "--warmup") == 0)
            warmup = parse_seconds(v);
        else if (strcmp(a, "--listen") == 0)
            config.listen_port = (uint16_t)parse_number(v, 65535);
        else if (strcmp(a, "--forward") == 0)
            config.forward_port = (uint16_t)parse_number(v, 65535), forward_given = true;
        else if (strcmp(a, "--metrics-port") == 0)
            config.metrics_port = (uint16_t)parse_number(v, 65535);
        else if (strcmp(a, "--packet-bytes") == 0)
            config.packet_bytes = parse_number(v, 1 << 20);
        else if (strcmp(a, "--buffers") == 0)
            config.buffers = (uint32_t)parse_number(v, 1 << 24);
        else if (strcmp(a, "--queue-limit") == 0)
            config.queue_limit = (uint32_t)parse_number(v, 1 << 24);
        else if (strcmp(a, "--outbound-limit") == 0)
            config.outbound_limit = (uint32_t)parse_number(v, 1 << 24);
        else
            usage();
    }
    if (config.packet_bytes < 32 || config.buffers == 0 || config.queue_limit == 0 || config.outbound_limit == 0 ||
        !(seconds > 0 && seconds < 3600))
        usage();
    for (int i = 0; i < rate_count; i++)
        if (!(rates[i] > 0)) usage();
    for (int i = 0; i < worker_counts; i++)
        if (workers[i] != floor(workers[i]) || workers[i] > 64) usage();

    if (relay_only) {
        if (!forward_given || worker_counts != 1) usage();
        config.workers = (int)workers[0];
        return run_relay(config);
    }

    print_machine(config.packet_bytes, config.seal_links);
    sink s;
    if (sink_start(&s, FRAME_HEADER_BYTES + config.packet_bytes) != 0) {
        fprintf(stderr, "relay_floor: cannot start the sink\n");
        return 1;
    }
    printf("%7s %9s %9s %9s %8s %8s %8s %7s %7s %7s %8s %8s %6s %6s %6s %6s %5s %5s\n", "workers", "offered", "achieved",
           "relayed", "cpu_us", "loop_us", "work_us", "wakes", "signals", "sleeps", "p50_us", "p99_us", "drops", "sink",
           "other", "steal", "load", "lagms");
    int status = 0;
    for (int w = 0; w < worker_counts && status == 0; w++) {
        relay r;
        config.workers = (int)workers[w];
        config.listen_port = 0;
        config.forward_port = s.port;
        if (relay_start(&r, &config) != 0) {
            status = 1;
            break;
        }
        for (int k = 0; k < rate_count && status == 0; k++) status = measure_step(&r, &s, config.workers, rates[k], seconds, warmup);
        relay_stop(&r);
    }
    sink_stop(&s);
    return status;
}
