/*
 * branding.c - what a reseller preseeded for the panel to show
 * (mailroomctl preseed: settings branding.product_name, .support, .logo):
 * the name in the header, title and footer, the support line, and the logo
 * served at /branding/logo and shown beside the name.
 *
 * The settings are re-read every BRANDING_RECHECK_SECONDS, so a preseed
 * applied while the panel runs shows within half a minute. The logo is a
 * file on the box (an absolute path, checked by preseed): served only if
 * it is a regular file of at most WEB_LOGO_MAX octets that starts like a
 * PNG, JPEG, GIF or WebP image (no SVG: opened on its own it could run
 * script in the panel's origin), so the setting cannot turn the panel
 * into a reader of other files.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web.h"

#define BRANDING_RECHECK_SECONDS 30
#define WEB_LOGO_MAX (512 * 1024) /* the largest logo file served */

/* The image type of the open file fd by its first octets and its size,
 * or NULL when it is not a regular file of an accepted type and size. */
static const char *logo_type(int fd, uint64_t *size_r)
{
	struct stat sb;
	unsigned char m[12];
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    sb.st_size > WEB_LOGO_MAX || pread(fd, m, sizeof m, 0) != (ssize_t)sizeof m)
		return NULL;
	*size_r = (uint64_t)sb.st_size;
	if (memcmp(m, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff)
		return "image/jpeg";
	if (memcmp(m, "GIF87a", 6) == 0 || memcmp(m, "GIF89a", 6) == 0)
		return "image/gif";
	if (memcmp(m, "RIFF", 4) == 0 && memcmp(m + 8, "WEBP", 4) == 0)
		return "image/webp";
	return NULL;
}

/* The logo file opened, with its type and size; -1 when there is none
 * to show. */
static int logo_open(const char *path, const char **type_r, uint64_t *size_r)
{
	if (path[0] != '/')
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	*type_r = logo_type(fd, size_r);
	if (*type_r == NULL) {
		close(fd);
		return -1;
	}
	return fd;
}

void web_branding_refresh(struct web_app *app, int64_t now)
{
	if (app->branding_checked != 0 &&
	    now - app->branding_checked < BRANDING_RECHECK_SECONDS)
		return;
	app->branding_checked = now;
	if (store_setting_get(app->store, "branding.product_name", app->product_name,
			      sizeof app->product_name) != STORE_OK ||
	    app->product_name[0] == '\0')
		snprintf(app->product_name, sizeof app->product_name, "Mailroom");
	if (store_setting_get(app->store, "branding.support", app->support,
			      sizeof app->support) != STORE_OK)
		app->support[0] = '\0';
	if (store_setting_get(app->store, "branding.logo", app->logo_path,
			      sizeof app->logo_path) != STORE_OK)
		app->logo_path[0] = '\0';
	const char *type;
	uint64_t size;
	int fd = app->logo_path[0] ? logo_open(app->logo_path, &type, &size) : -1;
	app->have_logo = fd >= 0;
	if (fd >= 0)
		close(fd);
}

/* GET /branding/logo: the preseeded logo, or 404. Open to everyone: the
 * login page shows it too. */
void h_logo(struct web_req *r)
{
	web_branding_refresh(r->app, r->now);
	const char *type;
	uint64_t size;
	int fd = r->app->have_logo ? logo_open(r->app->logo_path, &type, &size) : -1;
	if (fd < 0) {
		web_error_page(r, 404, "There is no logo.");
		return;
	}
	r->content_type = type;
	r->cacheable = true;
	r->file_fd = fd;
	r->file_size = size;
}
