/*
 * LD_PRELOAD shim for Debian's User-Mode Linux 6.1 on hosts with a large XSAVE area
 * (AVX-512, AMX): makes its floating-point register saves whole again.
 *
 * UML saves and restores each guest task's FPU state with ptrace(PTRACE_GETREGSET /
 * PTRACE_SETREGSET, NT_X86_XSTATE) through a buffer of a size fixed when it was built
 * (832 bytes: legacy area, header, AVX). The host kernel accepts a SETREGSET only with
 * its whole XSAVE size (11008 bytes with AMX), and fails it with EFAULT otherwise: the
 * guest's first process dies with "userspace - ptrace set fp regs failed, errno = 14"
 * and the kernel panics. (Later UML kernels ask the host for the size.)
 *
 * The shim keeps, per UML buffer (one per guest task, inside its thread struct), a
 * shadow of the host's full size: GETREGSET fills the shadow and gives UML its part;
 * SETREGSET lays UML's part over the shadow and hands the kernel the whole. So every
 * guest task keeps all of its register state (the AVX-512 and AMX parts included)
 * across context switches, as on a host whose XSAVE area UML knows.
 *
 * Built and used by tests/uml/run-in-uml. Everything else passes through untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* Larger than any XSAVE area x86 has defined so far (AMX: about 11 KiB). */
#define XSTATE_MAX (64 * 1024)

static long raw_ptrace(long request, pid_t pid, void *addr, void *data)
{
    return syscall(SYS_ptrace, request, pid, addr, data);
}

/* Open addressing on the UML buffer's address; entries are never removed (a buffer
 * belongs to a task struct and is reused by the next task placed there). */
struct shadow {
    void *key;
    unsigned char *full;
};
static struct shadow *table;
static size_t table_cap, table_len;

static struct shadow *slot_for(void *key)
{
    size_t i = ((uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ull & (table_cap - 1);
    while (table[i].key != NULL && table[i].key != key)
        i = (i + 1) & (table_cap - 1);
    return &table[i];
}

static int table_grow(void)
{
    struct shadow *old = table;
    size_t old_cap = table_cap, i;
    table_cap = old_cap ? old_cap * 2 : 256;
    table = calloc(table_cap, sizeof *table);
    if (table == NULL)
        return -1;
    for (i = 0; i < old_cap; i++)
        if (old[i].key != NULL)
            *slot_for(old[i].key) = old[i];
    free(old);
    return 0;
}

/* The shadow of KEY (NULL if out of memory); *fresh tells whether it was just made. */
static unsigned char *shadow_of(void *key, int *fresh)
{
    struct shadow *s;
    *fresh = 0;
    if ((table_len + 1) * 2 > table_cap && table_grow() != 0)
        return NULL;
    s = slot_for(key);
    if (s->key == NULL) {
        s->full = calloc(1, XSTATE_MAX);
        if (s->full == NULL)
            return NULL;
        s->key = key;
        table_len++;
        *fresh = 1;
    }
    return s->full;
}

/* The host's XSAVE size as ptrace sees it: what a GETREGSET into a big buffer returns. */
static size_t full_size;

static long get_full(pid_t pid, unsigned char *full)
{
    struct iovec iov = { .iov_base = full, .iov_len = XSTATE_MAX };
    long r = raw_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov);
    if (r == 0)
        full_size = iov.iov_len;
    return r;
}

static long xstate_get(pid_t pid, struct iovec *uml)
{
    int fresh;
    unsigned char *full = shadow_of(uml->iov_base, &fresh);
    long r;
    if (full == NULL)
        return raw_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, uml);
    r = get_full(pid, full);
    if (r != 0)
        return r;
    if (uml->iov_len > full_size)
        uml->iov_len = full_size;
    memcpy(uml->iov_base, full, uml->iov_len);
    return 0;
}

static long xstate_set(pid_t pid, struct iovec *uml)
{
    int fresh;
    unsigned char *full = shadow_of(uml->iov_base, &fresh);
    struct iovec iov;
    if (full == NULL || uml->iov_len > XSTATE_MAX)
        return raw_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, uml);
    /* A task never read before (a new one): the rest comes from the process as it is. */
    if ((fresh || full_size == 0) && get_full(pid, full) != 0)
        return raw_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, uml);
    if (uml->iov_len >= full_size)
        return raw_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, uml);
    memcpy(full, uml->iov_base, uml->iov_len);
    iov.iov_base = full;
    iov.iov_len = full_size;
    return raw_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov);
}

long ptrace(enum __ptrace_request request, ...)
{
    static long (*next)(enum __ptrace_request, ...);
    va_list ap;
    pid_t pid;
    void *addr, *data;
    long r;

    va_start(ap, request);
    pid = va_arg(ap, pid_t);
    addr = va_arg(ap, void *);
    data = va_arg(ap, void *);
    va_end(ap);

    if ((request == PTRACE_GETREGSET || request == PTRACE_SETREGSET) &&
        (uintptr_t)addr == NT_X86_XSTATE && data != NULL) {
        r = request == PTRACE_GETREGSET ? xstate_get(pid, data) : xstate_set(pid, data);
        if (r < 0)
            return -1; /* errno set by syscall() */
        return r;
    }
    if (next == NULL)
        next = (long (*)(enum __ptrace_request, ...))dlsym(RTLD_NEXT, "ptrace");
    return next(request, pid, addr, data);
}
