# install.mk: `make install` and `make uninstall`, as a package would lay
# tokenbroker out.  Included by the Makefile; usable alone too, as
# `make -f install.mk install`.  It does not build: run `make all` first (a
# rebuild here could replace an asan build with a plain one).
#
# Every directory below may be overridden on the command line.  DESTDIR is
# prepended to every path (staging for a package); PREFIX is the prefix the
# programs will run from.  The unit, sysusers.d, tmpfiles.d, bash and fish
# completion directories come from pkg-config as absolute paths (a PREFIX
# does not move them), with a fallback under PREFIX when pkg-config does not
# know systemd, bash-completion or fish.  zsh has no pkg-config file: its
# completion goes to the vendor directory under DATADIR, which zsh as
# Debian builds it has in its $fpath for PREFIX=/usr.
#
# What goes where (PREFIX=/usr/local, the default):
#   $(SBINDIR)/tokenbrokerd, $(BINDIR)/tokenctl               0755
#   $(SYSTEMDUNITDIR)/tokenbrokerd.service, .socket              0644
#       (ExecStart= is rewritten to $(SBINDIR)/tokenbrokerd; the file in
#       systemd/ names /usr/local/sbin/tokenbrokerd, right for the default)
#   $(SYSUSERSDIR)/tokenbroker.conf, $(TMPFILESDIR)/tokenbroker.conf 0644
#   $(SYSCONFDIR)/tokenbroker/tokenbroker.conf                   0640
#       (owner and group those of whoever installs; see below)
#       (from conf/tokenbroker.conf; an existing file is never replaced,
#       and uninstall leaves it in place)
#   $(EXAMPLESDIR)/*.conf (conf/examples/)                       0644
#   $(EXAMPLESDIR)/tokenbroker-proxy-example.socket              0644
#   $(DOCDIR)/fleet.md, $(DOCDIR)/fleet/*.yaml (doc/)             0644
#   $(MANDIR)/man1/tokenctl.1, man5/tokenbroker.conf.5, man8/tokenbrokerd.8
#   $(BASHCOMPLETIONDIR)/tokenctl                                0644
#   $(ZSHCOMPLETIONDIR)/_tokenctl                                0644
#   $(FISHCOMPLETIONDIR)/tokenctl.fish                           0644
#
# The daemon reads /etc/tokenbroker/tokenbroker.conf unless told otherwise
# with -c; SYSCONFDIR other than /etc is for staging only.
#
# The configuration is installed root:root (a package build is not root);
# the tmpfiles.d snippet gives it to group tokenbroker, so that the daemon
# can read it, whenever systemd-tmpfiles --create runs: at boot, from a
# package's postinst (dh_installtmpfiles), or below.
#
# Installing into the running system (no DESTDIR) as root also does what a
# package's postinst would: creates the tokenbroker user (systemd-sysusers),
# the secrets directory and the configuration's group (systemd-tmpfiles).
# Run `systemctl daemon-reload` afterwards.

# Keep the including Makefile's default goal (`all`).
TB_INSTALL_SAVED_GOAL := $(.DEFAULT_GOAL)

PREFIX      ?= /usr/local
DESTDIR     ?=
BUILD       ?= build
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/tokenbroker
EXAMPLESDIR ?= $(DOCDIR)/examples
SYSCONFDIR  ?= /etc

TB_PKGVAR = $(shell pkg-config --variable=$(2) $(1) 2>/dev/null)
SYSTEMDUNITDIR    ?= $(or $(call TB_PKGVAR,systemd,systemdsystemunitdir),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR       ?= $(or $(call TB_PKGVAR,systemd,sysusersdir),$(PREFIX)/lib/sysusers.d)
TMPFILESDIR       ?= $(or $(call TB_PKGVAR,systemd,tmpfilesdir),$(PREFIX)/lib/tmpfiles.d)
BASHCOMPLETIONDIR ?= $(or $(call TB_PKGVAR,bash-completion,completionsdir),$(DATADIR)/bash-completion/completions)
ZSHCOMPLETIONDIR  ?= $(DATADIR)/zsh/vendor-completions
FISHCOMPLETIONDIR ?= $(or $(call TB_PKGVAR,fish,completionsdir),$(DATADIR)/fish/vendor_completions.d)

INSTALL ?= install

TB_CONFDIR   = $(SYSCONFDIR)/tokenbroker
TB_EXAMPLES  = $(sort $(wildcard conf/examples/*.conf))
TB_MANPAGES  = man/tokenctl.1 man/tokenbroker.conf.5 man/tokenbrokerd.8
TB_UNITS     = tokenbrokerd.service tokenbrokerd.socket
TB_FLEET     = $(sort $(wildcard doc/fleet/*.yaml))

install:
	@for f in $(BUILD)/tokenbrokerd $(BUILD)/tokenctl; do \
		[ -x "$$f" ] || { echo "install: $$f is missing; run 'make all' first" >&2; exit 1; }; \
	done
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(BINDIR)"
	$(INSTALL) -m 0755 $(BUILD)/tokenbrokerd "$(DESTDIR)$(SBINDIR)/tokenbrokerd"
	$(INSTALL) -m 0755 $(BUILD)/tokenctl "$(DESTDIR)$(BINDIR)/tokenctl"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SYSTEMDUNITDIR)"
	sed 's|^ExecStart=/usr/local/sbin/tokenbrokerd|ExecStart=$(SBINDIR)/tokenbrokerd|' \
		systemd/tokenbrokerd.service >"$(DESTDIR)$(SYSTEMDUNITDIR)/tokenbrokerd.service.tmp"
	chmod 0644 "$(DESTDIR)$(SYSTEMDUNITDIR)/tokenbrokerd.service.tmp"
	mv -f "$(DESTDIR)$(SYSTEMDUNITDIR)/tokenbrokerd.service.tmp" \
		"$(DESTDIR)$(SYSTEMDUNITDIR)/tokenbrokerd.service"
	$(INSTALL) -m 0644 systemd/tokenbrokerd.socket "$(DESTDIR)$(SYSTEMDUNITDIR)/tokenbrokerd.socket"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SYSUSERSDIR)" "$(DESTDIR)$(TMPFILESDIR)"
	$(INSTALL) -m 0644 systemd/tokenbroker.sysusers "$(DESTDIR)$(SYSUSERSDIR)/tokenbroker.conf"
	$(INSTALL) -m 0644 systemd/tokenbroker.tmpfiles "$(DESTDIR)$(TMPFILESDIR)/tokenbroker.conf"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man5" "$(DESTDIR)$(MANDIR)/man8"
	$(INSTALL) -m 0644 man/tokenctl.1 "$(DESTDIR)$(MANDIR)/man1/tokenctl.1"
	$(INSTALL) -m 0644 man/tokenbroker.conf.5 "$(DESTDIR)$(MANDIR)/man5/tokenbroker.conf.5"
	$(INSTALL) -m 0644 man/tokenbrokerd.8 "$(DESTDIR)$(MANDIR)/man8/tokenbrokerd.8"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(BASHCOMPLETIONDIR)"
	$(INSTALL) -m 0644 contrib/tokenctl.bash-completion "$(DESTDIR)$(BASHCOMPLETIONDIR)/tokenctl"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(ZSHCOMPLETIONDIR)" "$(DESTDIR)$(FISHCOMPLETIONDIR)"
	$(INSTALL) -m 0644 contrib/tokenctl.zsh-completion "$(DESTDIR)$(ZSHCOMPLETIONDIR)/_tokenctl"
	$(INSTALL) -m 0644 contrib/tokenctl.fish "$(DESTDIR)$(FISHCOMPLETIONDIR)/tokenctl.fish"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(EXAMPLESDIR)"
	$(INSTALL) -m 0644 $(TB_EXAMPLES) "$(DESTDIR)$(EXAMPLESDIR)/"
	$(INSTALL) -m 0644 systemd/tokenbroker-proxy-example.socket "$(DESTDIR)$(EXAMPLESDIR)/"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(DOCDIR)/fleet"
	$(INSTALL) -m 0644 doc/fleet.md "$(DESTDIR)$(DOCDIR)/fleet.md"
	$(INSTALL) -m 0644 $(TB_FLEET) "$(DESTDIR)$(DOCDIR)/fleet/"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(TB_CONFDIR)"
	@conf="$(DESTDIR)$(TB_CONFDIR)/tokenbroker.conf"; \
	if [ -e "$$conf" ]; then \
		echo "keeping the existing $$conf"; \
	else \
		echo "$(INSTALL) -m 0640 conf/tokenbroker.conf $$conf"; \
		$(INSTALL) -m 0640 conf/tokenbroker.conf "$$conf" || exit 1; \
	fi; \
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		if command -v systemd-sysusers >/dev/null; then \
			echo "systemd-sysusers $(SYSUSERSDIR)/tokenbroker.conf"; \
			systemd-sysusers "$(SYSUSERSDIR)/tokenbroker.conf" || exit 1; \
		fi; \
		if command -v systemd-tmpfiles >/dev/null; then \
			echo "systemd-tmpfiles --create $(TMPFILESDIR)/tokenbroker.conf"; \
			systemd-tmpfiles --create "$(TMPFILESDIR)/tokenbroker.conf" || exit 1; \
		fi; \
	fi

# Removes what install put there, except the configuration (which may hold
# local settings) and the tokenbroker user.
uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/tokenbrokerd" "$(DESTDIR)$(BINDIR)/tokenctl"
	rm -f $(TB_UNITS:%="$(DESTDIR)$(SYSTEMDUNITDIR)/%")
	rm -f "$(DESTDIR)$(SYSUSERSDIR)/tokenbroker.conf" "$(DESTDIR)$(TMPFILESDIR)/tokenbroker.conf"
	rm -f "$(DESTDIR)$(MANDIR)/man1/tokenctl.1" "$(DESTDIR)$(MANDIR)/man5/tokenbroker.conf.5" \
		"$(DESTDIR)$(MANDIR)/man8/tokenbrokerd.8"
	rm -f "$(DESTDIR)$(BASHCOMPLETIONDIR)/tokenctl" "$(DESTDIR)$(ZSHCOMPLETIONDIR)/_tokenctl" \
		"$(DESTDIR)$(FISHCOMPLETIONDIR)/tokenctl.fish"
	rm -f $(TB_EXAMPLES:conf/examples/%="$(DESTDIR)$(EXAMPLESDIR)/%")
	rm -f "$(DESTDIR)$(EXAMPLESDIR)/tokenbroker-proxy-example.socket"
	rm -f "$(DESTDIR)$(DOCDIR)/fleet.md" $(TB_FLEET:doc/fleet/%="$(DESTDIR)$(DOCDIR)/fleet/%")
	@rmdir "$(DESTDIR)$(EXAMPLESDIR)" "$(DESTDIR)$(DOCDIR)/fleet" "$(DESTDIR)$(DOCDIR)" 2>/dev/null || true

.PHONY: install uninstall

.DEFAULT_GOAL := $(TB_INSTALL_SAVED_GOAL)
