/*
 * base64.h - strict RFC 4648 base64 for SASL (SMTP AUTH, POP3 AUTH).
 *
 * Strict on purpose: padding required, no whitespace, nothing after '=',
 * so one string has one meaning in every daemon that decodes it.
 */
#ifndef MAILROOM_BASE64_H
#define MAILROOM_BASE64_H

#include <stddef.h>

#include "buf.h"

/* The 6-bit value of one base64 alphabet character, or -1 (for the
 * lenient decoders of message bodies and RFC 2047 words). */
int base64_value(unsigned char c);
/* The value of one hex digit (RFC 4648 base16, either case), or -1: for
 * quoted-printable, RFC 2047 Q words and URL %XX escapes. */
int base16_value(unsigned char c);

/* Decode into dst[0..dstlen). Returns the decoded length, or -1 for bad
 * input or a dst too small. */
long base64_decode(struct slice in, unsigned char *dst, size_t dstlen)
	__attribute__((warn_unused_result));

#endif
