# mk/install.mk - `make install` and `make uninstall`, included by the
# top-level Makefile; also how the CLI links libinih (for `connredir apply`).
#
#   make install   [DESTDIR=/staging] [PREFIX=/usr/local] [BINDIR=...] ...
#   make uninstall [the same variables]: removes exactly what install put
#
# Where things go (every directory can be set on the command line):
#
#   BINDIR       $(PREFIX)/sbin    connredir, connredir-proxy,
#                                  connredir-apply-dir: tools for root
#                                  (their man pages are in section 8), so sbin
#   LIBDIR       $(PREFIX)/lib     libconnredir.a, libconnredir.so.1 and the
#                                  libconnredir.so link, the same three of
#                                  libconnredir-winsock; pkgconfig/connredir.pc
#                                  and pkgconfig/connredir-winsock.pc
#   INCLUDEDIR   $(PREFIX)/include connredir/*.h, the public headers
#   MANDIR       $(PREFIX)/share/man  man/*.N into manN/
#   SYSCONFDIR   /etc              connredir/connredir.conf.example and
#                                  connredir/proxy-firewall.conf.example; a
#                                  connredir.conf of yours is never touched
#   UNITDIR      $(PREFIX)/lib/systemd/system  connredir.service,
#                                  connredir.path, connredir-reload.service,
#                                  connredir-proxy@.service (never enabled)
#   COMPLETIONDIR $(PREFIX)/share/bash-completion/completions  connredir
#
# The systemd units and the .pc files are made from templates (@BINDIR@,
# @SYSCONFDIR@, ...) at install time, so they name the installed paths.

PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/sbin
LIBDIR        ?= $(PREFIX)/lib
INCLUDEDIR    ?= $(PREFIX)/include
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
SYSCONFDIR    ?= /etc
PKGCONFIGDIR  ?= $(LIBDIR)/pkgconfig
UNITDIR       ?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions

# ---- libinih: `connredir apply` reads connredir.conf(5) with it ------------

INIH_CFLAGS := $(shell pkg-config --cflags inih 2>/dev/null)
INIH_LIBS   := $(shell pkg-config --libs inih 2>/dev/null || echo -linih)
$(CLI): LDLIBS_BPF += $(INIH_LIBS)
$(B)/obj/cli/config.o: CFLAGS += $(INIH_CFLAGS)

# ---- what is installed -------------------------------------------------------

INST_BINS    := $(CLI) $(PROXY) dist/connredir-apply-dir
INST_HEADERS := $(wildcard include/connredir/*.h)
INST_MANS    := $(wildcard man/*.[1-8])
INST_UNITS   := $(patsubst dist/systemd/%.in,$(B)/dist/systemd/%,$(wildcard dist/systemd/*.in))
INST_PC      := $(B)/connredir.pc $(B)/connredir-winsock.pc
INST_EXAMPLES := dist/connredir.conf dist/proxy-firewall.conf

# Paths in the .pc files relative to ${prefix} when they are under it, so
# `pkg-config --define-prefix` / `--define-variable=prefix=` can move them.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	    -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|g' \
	    -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@VERSION@|$(VERSION)|g'

.PHONY: install uninstall install-gen FORCE

# Made again at every install: they depend on the directory variables.
$(INST_PC): $(B)/%.pc: mk/%.pc.in FORCE
	$(Q)mkdir -p $(@D)
	$(Q)$(SUBST) $< > $@.tmp && mv $@.tmp $@

$(B)/dist/systemd/%: dist/systemd/%.in FORCE
	$(Q)mkdir -p $(@D)
	$(Q)$(SUBST) $< > $@.tmp && mv $@.tmp $@

install-gen: $(INST_PC) $(INST_UNITS)

install: $(INST_BINS) $(LIB_A) $(LIB_SO) $(WS_A) $(WS_SO) install-gen
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX) $(DESTDIR)$(SYSCONFDIR))
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/connredir $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(SYSCONFDIR)/connredir
	$(Q)install -m 0755 $(INST_BINS) $(DESTDIR)$(BINDIR)/
	$(Q)install -m 0644 $(LIB_A) $(WS_A) $(DESTDIR)$(LIBDIR)/
	$(Q)install -m 0755 $(LIB_SO) $(WS_SO) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/libconnredir.so
	$(Q)ln -sf $(notdir $(WS_SO)) $(DESTDIR)$(LIBDIR)/libconnredir-winsock.so
	$(Q)install -m 0644 $(INST_PC) $(DESTDIR)$(PKGCONFIGDIR)/
	$(Q)install -m 0644 $(INST_HEADERS) $(DESTDIR)$(INCLUDEDIR)/connredir/
	$(Q)for m in $(INST_MANS); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}; \
		install -d $$d && install -m 0644 $$m $$d/ || exit 1; \
	done
	$(Q)install -m 0644 dist/bash-completion/connredir $(DESTDIR)$(COMPLETIONDIR)/connredir
	$(Q)install -m 0644 $(INST_UNITS) $(DESTDIR)$(UNITDIR)/
	$(Q)for f in $(INST_EXAMPLES); do \
		install -m 0644 $$f $(DESTDIR)$(SYSCONFDIR)/connredir/$$(basename $$f).example || exit 1; \
	done
	$(Q)if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig || true; fi

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX) $(DESTDIR)$(SYSCONFDIR))
	$(Q)rm -f $(DESTDIR)$(BINDIR)/connredir $(DESTDIR)$(BINDIR)/connredir-proxy \
		$(DESTDIR)$(BINDIR)/connredir-apply-dir \
		$(DESTDIR)$(LIBDIR)/libconnredir.a $(DESTDIR)$(LIBDIR)/$(notdir $(LIB_SO)) \
		$(DESTDIR)$(LIBDIR)/libconnredir.so \
		$(DESTDIR)$(LIBDIR)/libconnredir-winsock.a $(DESTDIR)$(LIBDIR)/$(notdir $(WS_SO)) \
		$(DESTDIR)$(LIBDIR)/libconnredir-winsock.so \
		$(addprefix $(DESTDIR)$(PKGCONFIGDIR)/,$(notdir $(INST_PC))) \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/connredir/,$(notdir $(INST_HEADERS))) \
		$(DESTDIR)$(COMPLETIONDIR)/connredir \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(INST_UNITS))) \
		$(addprefix $(DESTDIR)$(SYSCONFDIR)/connredir/,$(addsuffix .example,$(notdir $(INST_EXAMPLES))))
	$(Q)for m in $(INST_MANS); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$(basename $$m); \
	done
	$(Q)rmdir $(DESTDIR)$(INCLUDEDIR)/connredir 2>/dev/null || true
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/connredir 2>/dev/null || true
	$(Q)if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig || true; fi
