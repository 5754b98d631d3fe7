// bench_sink: the platform stand-in of bench/run. One thread, epoll, HTTP/1.1 keep-alive: every
// request is answered 200 with {"id":"s-N"} (what Herald's webhook channel takes as a remote id),
// so the sink costs as little as possible next to what it measures. It also keeps what the bench
// reads back:
//   GET  /count           {"count":N}: requests answered or held, the control routes excluded
//   GET  /arrivals        one line per request whose body held "bench-mark-<tag>": "<tag> <µs>",
//                         the arrival time on CLOCK_REALTIME, so the submitter's clock compares
//   POST /_reset          zero the count and the arrivals
//   POST /_hold           hold every answer until POST /_release (a backlog builds up upstream)
// A query `?delay_ms=N` delays the answer to an unmarked request by N ms (a platform slow on
// routine work) without holding the loop; marked requests (the alerts) are answered at once.
// Usage: bench_sink --port P   (127.0.0.1 only)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kMaxFds = 65536, kMaxEvents = 256 };

typedef struct {
  char* in;
  size_t in_len, in_cap;
  char* out;
  size_t out_len, out_off, out_cap;
  int open;
  int waiting;        // an answer is delayed or held: the next request is not read until it goes
  long long due_us;   // when a delayed answer goes (-1 while held)
  int sent_continue;  // "100 Continue" already sent for the request being read
  int close_after;    // Connection: close (or HTTP/1.0 without keep-alive)
} Conn;

static Conn* conns[kMaxFds];
static int epfd;
static long long count;
static int held;
static int waiting_conns, max_fd;  // so the timer scan is skipped while nothing waits
static char* arrivals;
static size_t arrivals_len, arrivals_cap;

static long long now_us(int clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void grow(char** buf, size_t* cap, size_t need) {
  if (need <= *cap) return;
  size_t n = *cap ? *cap : 4096;
  while (n < need) n *= 2;
  *buf = realloc(*buf, n);
  if (!*buf) abort();
  *cap = n;
}

static void append(char** buf, size_t* len, size_t* cap, const char* data, size_t n) {
  grow(buf, cap, *len + n);
  memcpy(*buf + *len, data, n);
  *len += n;
}

static void close_conn(int fd) {
  Conn* c = conns[fd];
  close(fd);
  if (c->waiting) --waiting_conns;
  c->open = 0;
  c->in_len = c->out_len = c->out_off = 0;
  c->waiting = c->sent_continue = c->close_after = 0;
}

// Writes what is queued; asks for EPOLLOUT only while the socket is full.
static void flush_out(int fd) {
  Conn* c = conns[fd];
  while (c->out_off < c->out_len) {
    ssize_t n = write(fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
      epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
      return;
    }
    if (n <= 0) {
      close_conn(fd);
      return;
    }
    c->out_off += (size_t)n;
  }
  c->out_len = c->out_off = 0;
  if (c->close_after) close_conn(fd);
}

static void respond(int fd, int status, const char* type, const char* body, size_t body_len) {
  Conn* c = conns[fd];
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: %s\r\n\r\n",
                   status, status == 200 ? "OK" : "Bad Request", type, body_len,
                   c->close_after ? "close" : "keep-alive");
  append(&c->out, &c->out_len, &c->out_cap, head, (size_t)n);
  append(&c->out, &c->out_len, &c->out_cap, body, body_len);
}

static void answer_counted(int fd) {
  char body[64];
  int n = snprintf(body, sizeof body, "{\"id\":\"s-%lld\"}", count);
  respond(fd, 200, "application/json", body, (size_t)n);
}

// Case-insensitive header lookup in [head, end): the value, or NULL.
static const char* header(const char* head, const char* end, const char* name, size_t* len) {
  size_t name_len = strlen(name);
  for (const char* line = memchr(head, '\n', (size_t)(end - head)); line && line + 1 < end;
       line = memchr(line + 1, '\n', (size_t)(end - line - 1))) {
    const char* p = line + 1;
    if ((size_t)(end - p) > name_len && strncasecmp(p, name, name_len) == 0 && p[name_len] == ':') {
      p += name_len + 1;
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      const char* e = p;
      while (e < end && *e != '\r' && *e != '\n') ++e;
      *len = (size_t)(e - p);
      return p;
    }
  }
  return NULL;
}

// Records the arrival of a request tagged "bench-mark-<tag>"; returns whether it was tagged.
static int record_mark(const char* body, size_t body_len, long long at_us) {
  static const char kMark[] = "bench-mark-";
  const char* m = memmem(body, body_len, kMark, sizeof kMark - 1);
  if (!m) return 0;
  const char* tag = m + sizeof kMark - 1;
  const char* e = tag;
  while (e < body + body_len && e - tag < 64 &&
         ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
          *e == '-' || *e == '_')) {
    ++e;
  }
  char line[128];
  int n = snprintf(line, sizeof line, "%.*s %lld\n", (int)(e - tag), tag, at_us);
  append(&arrivals, &arrivals_len, &arrivals_cap, line, (size_t)n);
  return 1;
}

// Handles the complete requests in the buffer; stops at a delayed or held answer.
static void serve(int fd) {
  Conn* c = conns[fd];
  size_t off = 0;
  while (c->open && !c->waiting) {
    char* start = c->in + off;
    size_t avail = c->in_len - off;
    char* head_end = memmem(start, avail, "\r\n\r\n", 4);
    if (!head_end) break;
    const char* hend = head_end + 2;
    size_t head_len = (size_t)(head_end + 4 - start), vlen = 0;
    const char* v = header(start, hend, "Content-Length", &vlen);
    size_t body_len = v ? strtoul(v, NULL, 10) : 0;
    if (header(start, hend, "Transfer-Encoding", &vlen)) {
      c->close_after = 1;  // the bench's clients always send a length
      respond(fd, 400, "text/plain", "chunked bodies are not supported\n", 33);
      break;
    }
    if (avail < head_len + body_len) {
      v = header(start, hend, "Expect", &vlen);
      if (v && !c->sent_continue) {
        append(&c->out, &c->out_len, &c->out_cap, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        c->sent_continue = 1;
      }
      break;
    }
    c->sent_continue = 0;
    const char* body = start + head_len;
    v = header(start, hend, "Connection", &vlen);
    int http10 = memmem(start, (size_t)(hend - start), "HTTP/1.0", 8) != NULL;
    c->close_after = v ? (vlen == 5 && strncasecmp(v, "close", 5) == 0)
                       : http10;  // 1.0 closes unless it asked for keep-alive
    const char* target = memchr(start, ' ', head_len);
    target = target ? target + 1 : start;
    size_t consumed = head_len + body_len;
    off += consumed;

    if (strncmp(target, "/count ", 7) == 0) {
      char out[64];
      int n = snprintf(out, sizeof out, "{\"count\":%lld}", count);
      respond(fd, 200, "application/json", out, (size_t)n);
    } else if (strncmp(target, "/arrivals ", 10) == 0) {
      respond(fd, 200, "text/plain", arrivals ? arrivals : "", arrivals_len);
    } else if (strncmp(target, "/_reset ", 8) == 0) {
      count = 0;
      arrivals_len = 0;
      respond(fd, 200, "application/json", "{}", 2);
    } else if (strncmp(target, "/_hold ", 7) == 0) {
      held = 1;
      respond(fd, 200, "application/json", "{}", 2);
    } else if (strncmp(target, "/_release ", 10) == 0) {
      held = 0;
      long long now = now_us(CLOCK_MONOTONIC);
      for (int i = 0; i <= max_fd; ++i) {
        if (conns[i] && conns[i]->open && conns[i]->waiting && conns[i]->due_us == -1) {
          conns[i]->due_us = now;
        }
      }
      respond(fd, 200, "application/json", "{}", 2);
    } else {
      ++count;
      // Only unmarked (routine) calls are delayed: an alert is answered at once, so the queue's
      // own behaviour is measured, not an alert waiting behind the previous alert's slow call.
      const int marked = record_mark(body, body_len, now_us(CLOCK_REALTIME));
      const char* q = memmem(target, (size_t)(hend - target), "delay_ms=", 9);
      const char* sp = memchr(target, ' ', (size_t)(hend - target));
      long delay = q && sp && q < sp && !marked ? strtol(q + 9, NULL, 10) : 0;
      if (held || delay > 0) {
        c->waiting = 1;
        ++waiting_conns;
        c->due_us = held ? -1 : now_us(CLOCK_MONOTONIC) + delay * 1000;
        break;
      }
      answer_counted(fd);
    }
  }
  if (off > 0) {
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
  }
  if (c->open) flush_out(fd);
}

// Sends the delayed answers that are due; returns the epoll timeout until the next one (ms).
static int send_due(void) {
  if (waiting_conns == 0) return -1;
  long long now = now_us(CLOCK_MONOTONIC), next = -1;
  for (int fd = 0; fd <= max_fd; ++fd) {
    Conn* c = conns[fd];
    if (!c || !c->open || !c->waiting || c->due_us == -1) continue;
    if (c->due_us <= now) {
      c->waiting = 0;
      --waiting_conns;
      answer_counted(fd);
      serve(fd);  // flushes, and reads on if the client already sent more
    } else if (next < 0 || c->due_us < next) {
      next = c->due_us;
    }
  }
  if (next < 0) return -1;
  return (int)((next - now + 999) / 1000);
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(fd, 4096) != 0) {
    perror("bench_sink: bind/listen");
    exit(1);
  }
  return fd;
}

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
  }
  if (port <= 0) {
    fprintf(stderr, "usage: bench_sink --port P\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = listen_on(port);
  epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  printf("bench_sink listening on 127.0.0.1:%d\n", port);
  fflush(stdout);

  struct epoll_event events[kMaxEvents];
  int timeout = -1;
  for (;;) {
    int n = epoll_wait(epfd, events, kMaxEvents, timeout);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        int cfd;
        while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          if (cfd >= kMaxFds) {
            close(cfd);
            continue;
          }
          int one = 1;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (!conns[cfd]) conns[cfd] = calloc(1, sizeof(Conn));
          if (cfd > max_fd) max_fd = cfd;
          conns[cfd]->open = 1;
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      Conn* c = conns[fd];
      if (!c || !c->open) continue;
      if (events[i].events & EPOLLOUT) {
        flush_out(fd);
        if (c->open && c->out_len == 0) {
          struct epoll_event mev = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &mev);
        }
        if (!c->open) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          grow(&c->in, &c->in_cap, c->in_len + 16384);
          ssize_t r = read(fd, c->in + c->in_len, c->in_cap - c->in_len);
          if (r > 0) {
            c->in_len += (size_t)r;
            // A short read took all there was: skip the read that would only say EAGAIN
            // (level-triggered epoll reports whatever comes next).
            if (c->in_len < c->in_cap) break;
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r < 0 && errno == EAGAIN) break;
          close_conn(fd);  // EOF or error
          break;
        }
        if (c->open && !c->waiting) serve(fd);
      }
    }
    timeout = send_due();
  }
}
