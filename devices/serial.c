/* SPDX-License-Identifier: MIT */
/* 16550A UART on COM1, with its console on stdio or a file. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "devices/devices.h"

/* Register offsets (DLAB selects the divisor latch at 0 and 1). */
#define UART_RBR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI  0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI  0x08

#define IIR_NONE    0x01
#define IIR_MSI     0x00
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_RLSI    0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO    0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80
#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI  0x40
#define MSR_DCD 0x80

#define RX_BUF 4096 /* beyond the 16-byte FIFO the guest sees: a line that never overruns */
#define CTRL_A 0x01

struct serial {
	struct vm *vm;
	struct ioapic *ioapic; /* where COM1_IRQ goes; NULL: nowhere */
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	bool thri_pending; /* THR-empty interrupt raised and not yet acknowledged */
	bool irq_level;
	uint8_t rx[RX_BUF];
	size_t rx_head, rx_count;
	int out_fd, in_fd;
	bool own_out_fd;
	bool in_watched;
	bool tty_raw;
	struct termios saved_tio;
	bool escape;
};

static unsigned serial_rx_trigger(const struct serial *s)
{
	static const unsigned levels[] = { 1, 4, 8, 14 };

	return s->fcr & FCR_ENABLE ? levels[s->fcr >> 6] : 1;
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = s->fcr & FCR_ENABLE ? IIR_FIFO : 0;

	if ((s->ier & IER_RLSI) && (s->lsr & (LSR_OE | LSR_BI)))
		return fifo | IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		/* No character timer: fewer bytes than the trigger level report a timeout now. */
		return fifo | (s->rx_count >= serial_rx_trigger(s) ? IIR_RDI : IIR_TIMEOUT);
	if ((s->ier & IER_THRI) && s->thri_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NONE;
}

/* Recompute the IRQ line after any state change; caller holds the lock. */
static void serial_update_irq(struct serial *s)
{
	/* OUT2 gates the interrupt onto the ISA bus on PC UARTs; Linux sets it. */
	bool level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->ioapic)
			ioapic_set_irq(s->ioapic, COM1_IRQ, level);
	}
}

static void serial_input_ready(void *opaque, uint32_t events);

static void serial_watch_input(struct serial *s, bool on)
{
	if (s->in_fd < 0 || on == s->in_watched)
		return;
	s->in_watched = on;
	if (on) {
		if (loop_add(&s->vm->loop, s->in_fd, EPOLLIN, serial_input_ready, s))
			s->in_watched = false;
	} else if (loop_del(&s->vm->loop, s->in_fd)) {
		log_debug("serial: stdin was not watched");
	}
}

static void serial_push_rx(struct serial *s, uint8_t c)
{
	if (s->rx_count == RX_BUF) {
		s->lsr |= LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % RX_BUF] = c;
	s->rx_count++;
}

static void serial_output(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		serial_push_rx(s, c);
		return;
	}
	if (s->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(s->out_fd, &c, 1);

		if (n == 1 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return; /* a closed console drops output; the guest must not stall */
	}
}

static uint8_t serial_read(struct serial *s, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_count)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % RX_BUF;
		s->rx_count--;
		if (s->rx_count < RX_BUF / 2)
			serial_watch_input(s, true);
		return v;
	case UART_IER:
		return s->lcr & LCR_DLAB ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt that it reports. */
		if ((v & 0x0f) == IIR_THRI)
			s->thri_pending = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = s->lsr | (s->rx_count ? LSR_DR : 0);
		s->lsr &= ~(LSR_OE | LSR_BI);
		return v;
	case UART_MSR:
		if (s->mcr & MCR_LOOP) {
			v = (s->mcr & MCR_RTS ? MSR_CTS : 0) | (s->mcr & MCR_DTR ? MSR_DSR : 0) |
			    (s->mcr & MCR_OUT1 ? MSR_RI : 0) | (s->mcr & MCR_OUT2 ? MSR_DCD : 0);
			return v;
		}
		return s->msr;
	default:
		return s->scr;
	}
}

static void serial_write(struct serial *s, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		serial_output(s, v);
		/* Output is instantaneous: the THR is empty again at once. */
		s->thri_pending = true;
		return;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling the THR-empty interrupt while the THR is empty raises it. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thri_pending = true;
		s->ier = v & 0x0f;
		return;
	case UART_IIR: /* FCR */
		if (v & FCR_CLEAR_RX)
			s->rx_count = 0;
		s->fcr = v & 0xc9;
		return;
	case UART_LCR:
		s->lcr = v;
		return;
	case UART_MCR:
		s->mcr = v & 0x1f;
		return;
	case UART_LSR:
	case UART_MSR:
		return; /* read-only on real hardware; writes are test-mode only */
	default:
		s->scr = v;
		return;
	}
}

static void serial_pio(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&s->lock);
	/* A wider access touches consecutive registers, as byte accesses would. */
	for (uint32_t i = 0; i < len; i++) {
		if (off + i >= 8)
			b[i] = 0xff;
		else if (is_write)
			serial_write(s, (unsigned)(off + i), b[i]);
		else
			b[i] = serial_read(s, (unsigned)(off + i));
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (; n < len && s->rx_count < RX_BUF; n++)
		serial_push_rx(s, buf[n]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* stdin is readable: feed what fits, handle the Ctrl-A escape on a terminal. */
static void serial_input_ready(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[256], out[256];
	size_t room, nout = 0;
	ssize_t n;

	(void)events;
	pthread_mutex_lock(&s->lock);
	room = RX_BUF - s->rx_count;
	if (!room) {
		serial_watch_input(s, false);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	pthread_mutex_unlock(&s->lock);
	n = read(s->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* End of input: stop watching; the guest keeps running without it. */
		pthread_mutex_lock(&s->lock);
		serial_watch_input(s, false);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (!s->tty_raw) {
			out[nout++] = buf[i];
		} else if (s->escape) {
			s->escape = false;
			if (buf[i] == 'x' || buf[i] == 'X') {
				vm_stop(s->vm, VM_EXIT_SIGNAL + SIGINT);
				return;
			}
			out[nout++] = buf[i];
		} else if (buf[i] == CTRL_A) {
			s->escape = true;
		} else {
			out[nout++] = buf[i];
		}
	}
	if (serial_receive(s, out, nout) < nout)
		log_debug("serial: input overrun");
}

/* Give the terminal back its saved mode: at teardown, and for an abandoned VM. */
static void serial_restore_console(void *opaque)
{
	struct serial *s = opaque;

	if (s->tty_raw)
		tcsetattr(s->in_fd, TCSAFLUSH, &s->saved_tio);
	s->tty_raw = false;
}

static void serial_destroy(void *opaque)
{
	struct serial *s = opaque;

	if (s->in_watched && loop_del(&s->vm->loop, s->in_fd))
		log_debug("serial: stdin was not watched");
	serial_restore_console(s);
	if (s->own_out_fd)
		close(s->out_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int serial_open_console(struct serial *s, enum serial_mode mode, const char *path)
{
	struct termios tio;

	switch (mode) {
	case SERIAL_NONE:
		return 0;
	case SERIAL_FILE:
		s->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s->out_fd < 0) {
			int r = -errno;

			log_err("open serial output %s: %s (check the path given to --serial "
			        "file:PATH)",
			        path, strerror(errno));
			return r;
		}
		s->own_out_fd = true;
		return 0;
	case SERIAL_STDIO:
		s->out_fd = STDOUT_FILENO;
		s->in_fd = STDIN_FILENO;
		/* Raw mode passes every key (Ctrl-C included) to the guest, as a real line would.
		 */
		if (isatty(s->in_fd) && tcgetattr(s->in_fd, &s->saved_tio) == 0) {
			tio = s->saved_tio;
			cfmakeraw(&tio);
			tio.c_oflag |= OPOST | ONLCR;
			if (tcsetattr(s->in_fd, TCSAFLUSH, &tio) == 0)
				s->tty_raw = true;
		}
		return 0;
	}
	return -EINVAL;
}

int serial_create(struct vm *vm, struct ioapic *ioapic, enum serial_mode mode, const char *path,
                  struct serial **out)
{
	struct serial *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		log_err("serial: out of memory");
		return -ENOMEM;
	}
	s->vm = vm;
	s->ioapic = ioapic;
	s->out_fd = s->in_fd = -1;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	pthread_mutex_init(&s->lock, NULL);
	r = serial_open_console(s, mode, path);
	if (r) {
		serial_destroy(s);
		return r;
	}
	r = vm_on_destroy(vm, serial_destroy, s);
	if (r) {
		serial_destroy(s);
		return r;
	}
	if ((r = vm_on_abandon(vm, serial_restore_console, s)) ||
	    (r = bus_register(&vm->pio, COM1_PORT, 8, serial_pio, s, "serial COM1")))
		return r;
	pthread_mutex_lock(&s->lock);
	serial_watch_input(s, true);
	pthread_mutex_unlock(&s->lock);
	*out = s;
	return 0;
}
