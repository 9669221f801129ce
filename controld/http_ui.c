/* /ui/: the read-only console. Its files are compiled into controld
 * (controld/ui/, turned into C arrays at build time by
 * controld/ui/embed.sh); nothing is read from disk or the network at run
 * time. The page asks for a token and reads /api/v1 with it. */
#include "controld/http_int.h"

#include <string.h>

/* Scripts and styles only from this origin, no inline code, nothing
 * framed. */
#define CSP                                                                    \
	"default-src 'none'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; "          \
	"form-action 'none'; frame-ancestors 'none'"

static enum MHD_Result send_asset(struct MHD_Connection *c,
				  const struct controld_asset *a)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(a->len, (void *)(uintptr_t)a->data,
					    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", a->type);
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result redirect(struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(0, (void *)"",
					    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Location", "/ui/");
	ret = MHD_queue_response(c, 302, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result controld_http_ui(struct MHD_Connection *c, const char *name)
{
	if (name == NULL)
		return redirect(c);
	if (name[0] == '\0')
		name = "index.html";
	for (size_t i = 0; i < controld_ui_n_assets; i++)
		if (strcmp(controld_ui_assets[i].name, name) == 0)
			return send_asset(c, &controld_ui_assets[i]);
	return controld_http_send(c, 404, "text/plain",
				  "no such file in the console\n", 28);
}
