/*
 * Private to libshmring: how its functions fill a caller's shm_error_t.
 */
#ifndef SHM_ERROR_H
#define SHM_ERROR_H
#include "shm_ring.h"

__attribute__((format(printf, 3, 4)))
int shm_error_set(shm_error_t *err, int code, const char *fmt, ...);

#endif
