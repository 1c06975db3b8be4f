/*
 * autoconfig.c - how mail programs find their settings: Thunderbird
 * autoconfig (/.well-known/autoconfig/mail/config-v1.1.xml and
 * /mail/config-v1.1.xml, as served from autoconfig.<domain>), Outlook
 * autodiscover (POST /autodiscover/autodiscover.xml), and the printable
 * "how to set up your mail" page for one employee.
 *
 * The answers describe this box's own listeners: POP3 with TLS from the
 * start (pop3s_listen) when configured, else POP3 with STARTTLS; sending
 * via submission with STARTTLS (submission_listen), else SMTPS. They are
 * the same for every address, so they tell nobody which accounts exist.
 * All text is XML-escaped by the html helper (its entities are XML's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/addr.h"
#include "../common/listen.h"
#include "web.h"

#define AUTODISCOVER_EMAIL_MAX ADDR_MAX

struct mail_ports {
	char host[HOSTNAME_MAX + 1];
	int pop_port;
	bool pop_ssl; /* true: TLS from the start; false: STARTTLS */
	int smtp_port;
	bool smtp_ssl;
};

static int first_port(const char *spec)
{
	struct listen_addr a[LISTEN_ADDRS_MAX];
	size_t n = 0;
	char err[200];
	if (listen_parse(spec, a, LISTEN_ADDRS_MAX, &n, err, sizeof err) != 0 ||
	    n == 0)
		return 0;
	const char *colon = strrchr(a[0].text, ':');
	return colon ? (int)strtol(colon + 1, NULL, 10) : 0;
}

static void mail_ports(struct web_req *r, struct mail_ports *p)
{
	const struct config *cfg = r->app->cfg;
	if (store_setting_get(r->app->store, "hostname", p->host, sizeof p->host) !=
	    STORE_OK)
		snprintf(p->host, sizeof p->host, "%s", cfg->hostname);
	p->pop_port = first_port(cfg->pop3s_listen);
	p->pop_ssl = p->pop_port != 0;
	if (!p->pop_ssl)
		p->pop_port = first_port(cfg->pop3_listen);
	p->smtp_port = first_port(cfg->submission_listen);
	p->smtp_ssl = p->smtp_port == 0;
	if (p->smtp_ssl)
		p->smtp_port = first_port(cfg->smtps_listen);
}

static int domain_line(void *ctx, const struct store_domain *d)
{
	html_fmt(ctx, "    <domain>%s</domain>\n", d->name);
	return 0;
}

void h_autoconfig(struct web_req *r)
{
	struct mail_ports p;
	mail_ports(r, &p);
	struct html *h = &r->out;
	r->content_type = "application/xml; charset=utf-8";
	html_fmt(h, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<clientConfig version=\"1.1\">\n"
		    "  <emailProvider id=\"%s\">\n",
		 p.host);
	(void)store_domain_list(r->app->store, domain_line, h);
	html_fmt(h,
		 "    <displayName>Mail on %s</displayName>\n"
		 "    <displayShortName>Mailroom</displayShortName>\n"
		 "    <incomingServer type=\"pop3\">\n"
		 "      <hostname>%s</hostname>\n"
		 "      <port>%d</port>\n"
		 "      <socketType>%R</socketType>\n"
		 "      <authentication>password-cleartext</authentication>\n"
		 "      <username>%%EMAILADDRESS%%</username>\n"
		 "    </incomingServer>\n"
		 "    <outgoingServer type=\"smtp\">\n"
		 "      <hostname>%s</hostname>\n"
		 "      <port>%d</port>\n"
		 "      <socketType>%R</socketType>\n"
		 "      <authentication>password-cleartext</authentication>\n"
		 "      <username>%%EMAILADDRESS%%</username>\n"
		 "    </outgoingServer>\n"
		 "  </emailProvider>\n"
		 "</clientConfig>\n",
		 p.host, p.host, p.pop_port, p.pop_ssl ? "SSL" : "STARTTLS", p.host,
		 p.smtp_port, p.smtp_ssl ? "SSL" : "STARTTLS");
}

/* The text between <EMailAddress> and </EMailAddress>, bounded. */
static bool request_email(const char *body, size_t len, char *dst, size_t dstlen)
{
	static const char open[] = "<EMailAddress>";
	static const char close[] = "</EMailAddress>";
	const char *s = memmem(body, len, open, sizeof open - 1);
	if (s == NULL)
		return false;
	s += sizeof open - 1;
	const char *e = memmem(s, len - (size_t)(s - body), close, sizeof close - 1);
	if (e == NULL || (size_t)(e - s) >= dstlen)
		return false;
	memcpy(dst, s, (size_t)(e - s));
	dst[e - s] = '\0';
	return true;
}

void h_autodiscover(struct web_req *r)
{
	char email[AUTODISCOVER_EMAIL_MAX + 1];
	struct addr a;
	const char *why;
	if (!request_email(r->body, r->body_len, email, sizeof email) ||
	    addr_parse(email, strlen(email), 0, &a, &why) != 0) {
		web_error_page(r, 400, "Send an Outlook autodiscover request with "
				       "an EMailAddress.");
		return;
	}
	struct mail_ports p;
	mail_ports(r, &p);
	struct html *h = &r->out;
	r->content_type = "application/xml; charset=utf-8";
	html_fmt(h,
		 "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		 "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
		 "autodiscover/responseschema/2006\">\n"
		 "  <Response xmlns=\"http://schemas.microsoft.com/exchange/"
		 "autodiscover/outlook/responseschema/2006a\">\n"
		 "    <Account>\n"
		 "      <AccountType>email</AccountType>\n"
		 "      <Action>settings</Action>\n"
		 "      <Protocol>\n"
		 "        <Type>POP3</Type>\n"
		 "        <Server>%s</Server>\n"
		 "        <Port>%d</Port>\n"
		 "        <LoginName>%s</LoginName>\n"
		 "        <DomainRequired>off</DomainRequired>\n"
		 "        <SPA>off</SPA>\n"
		 "        <SSL>on</SSL>\n"
		 "        %R\n"
		 "        <AuthRequired>on</AuthRequired>\n"
		 "      </Protocol>\n"
		 "      <Protocol>\n"
		 "        <Type>SMTP</Type>\n"
		 "        <Server>%s</Server>\n"
		 "        <Port>%d</Port>\n"
		 "        <LoginName>%s</LoginName>\n"
		 "        <DomainRequired>off</DomainRequired>\n"
		 "        <SPA>off</SPA>\n"
		 "        <Encryption>%R</Encryption>\n"
		 "        <AuthRequired>on</AuthRequired>\n"
		 "        <UsePOPAuth>off</UsePOPAuth>\n"
		 "        <SMTPLast>off</SMTPLast>\n"
		 "      </Protocol>\n"
		 "    </Account>\n"
		 "  </Response>\n"
		 "</Autodiscover>\n",
		 p.host, p.pop_port, a.full,
		 p.pop_ssl ? "<Encryption>SSL</Encryption>"
			   : "<Encryption>TLS</Encryption>",
		 p.host, p.smtp_port, a.full, p.smtp_ssl ? "SSL" : "TLS");
}

/* ---- the printable setup page --------------------------------------------- */

static void howto(struct web_req *r, const char *address)
{
	struct mail_ports p;
	mail_ports(r, &p);
	struct html *h = &r->out;
	page_begin(r, "How to set up your mail");
	html_fmt(h,
		 "<section><p>Most mail programs (Thunderbird, Outlook, the mail "
		 "apps on phones) set themselves up when you give them your "
		 "address <b>%s</b> and your password. If yours asks for "
		 "details, use these:</p>"
		 "<div class=\"table-wrap\"><table><tbody>"
		 "<tr><th>Your address</th><td><code>%s</code></td></tr>"
		 "<tr><th>User name</th><td><code>%s</code> (the whole address)"
		 "</td></tr>"
		 "<tr><th>Incoming mail (POP3)</th><td>server <code>%s</code>, "
		 "port <code>%d</code>, security <b>%R</b></td></tr>"
		 "<tr><th>Outgoing mail (SMTP)</th><td>server <code>%s</code>, "
		 "port <code>%d</code>, security <b>%R</b>, sign in with the "
		 "same user name and password</td></tr>"
		 "<tr><th>Password</th><td>the one you were given (normal "
		 "password, not \"encrypted password\")</td></tr>"
		 "</tbody></table></div>"
		 "<p class=\"hint\">POP3 downloads your mail to this computer or "
		 "phone and removes it from the server. Print this page or send "
		 "it to yourself.</p></section>",
		 address, address, address, p.host, p.pop_port,
		 p.pop_ssl ? "SSL/TLS" : "STARTTLS", p.host, p.smtp_port,
		 p.smtp_ssl ? "SSL/TLS" : "STARTTLS");
	page_end(r);
}

void h_me_howto(struct web_req *r)
{
	howto(r, r->user.address);
}

void h_account_howto(struct web_req *r)
{
	const char *address = web_query(r, "address");
	struct store_account a;
	if (address == NULL ||
	    store_account_get(r->app->store, address, &a) != STORE_OK) {
		web_error_page(r, 404, "There is no such account.");
		return;
	}
	if (!web_can_manage_domain(&r->user, a.domain)) {
		web_error_page(r, 403, "You cannot manage that account.");
		return;
	}
	howto(r, a.address);
}
