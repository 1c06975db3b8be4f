/*
 * dkimrec.h - the DKIM part of the DNS records page: which TXT record a
 * domain's signing key wants published, and whether a record found in
 * DNS carries that key.
 *
 * The keys are the ones `mailroomctl dkim keygen DOMAIN` writes and
 * mailroom-queued signs with: <data_dir>/dkim/<domain>.pem (RSA, name
 * <selector>._domainkey.<domain>) and <domain>.ed25519.pem (Ed25519, name
 * <selector>-ed25519._domainkey.<domain>, RFC 8463). They are loaded with
 * outbound's own loader (ob_dkim_load_key), so the panel checks exactly
 * the key the queue signs with.
 */
#ifndef MAILROOM_WEB_DKIMREC_H
#define MAILROOM_WEB_DKIMREC_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/dkim_txt.h"

/* common/dkim_txt.h sizes the record. */
#define DKIMREC_TXT_MAX DKIM_TXT_MAX

enum dkimrec_kind { DKIMREC_RSA, DKIMREC_ED25519 };

/*
 * The wanted TXT value for domain's key of this kind into txt (size
 * DKIMREC_TXT_MAX) and its DNS name into name (size namelen). 1 when the
 * key exists, 0 when there is none (name is still filled), -1 when the
 * file exists but cannot be read as a key (err says why).
 */
int dkimrec_wanted(const char *data_dir, const char *selector,
		   const char *domain, enum dkimrec_kind kind, char *name,
		   size_t namelen, char txt[DKIMREC_TXT_MAX], const char **err);

/* True when the TXT value found publishes the same key as want: the same
 * p= (whitespace ignored, RFC 6376 3.6.1) and the same k= (rsa when
 * absent). Tag order and other tags do not matter; a record trust/ cannot
 * parse as a tag list (RFC 6376 3.2) does not match. */
bool dkimrec_matches(const char *found, const char *want);

#endif
