# connredir - top-level Makefile. Everything generated goes to build/
# (build/san/ with SANITIZE=1).
#
#   make            build everything (installs nothing: a missing build
#                   package stops it, naming scripts/install-deps.sh)
#   make test       install what is missing, build, run every test (root)
#   make test NO_OPTIONAL=1  the same with the optional kernel features
#                   forced off (CONNREDIR_NO_OPTIONAL=1), as on a kernel
#                   that refuses BPF iterators; .ci/run runs both
#   make test-load  the load tests, tests/load/*.sh (root, about 3 minutes)
#   make demo       the main job on a built-in example (root)
#   make fuzz       run every fuzz target for FUZZ_SECONDS each
#   make deps       install the missing Debian packages, nothing else
#   (test, test-load, demo, fuzz and bench install what they need first,
#   through scripts/install-deps.sh, and say so; nothing else does)
#   make SANITIZE=1 build user space with AddressSanitizer + UBSan into
#                   build/san/; `make test SANITIZE=1` runs the tests on it
#                   (a sanitizer report fails its test: tests/run.sh)
#   make V=1        show the commands

V ?= 0
ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# A sanitized build has its own directory: its objects never mix with the
# normal ones. The tests find it through CRD_BUILD (tests/lib.sh).
B       := $(if $(filter 1,$(SANITIZE)),build/san,build)
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
FUZZ_SECONDS ?= 20

SONAME_MAJOR := 1
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
	   -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -Icommon -Ilib -Ibpf -I$(B) \
	   -DCONNREDIR_VERSION=\"$(VERSION)\"
LDLIBS_BPF := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	   -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
	      -I$(B) -Ibpf -Iinclude

# ---- what gets built -------------------------------------------------------

LIB_SRCS  := $(filter-out lib/parse.c,$(wildcard lib/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/pic/%.o)
LIB_A     := $(B)/libconnredir.a
LIB_SO    := $(B)/libconnredir.so.$(SONAME_MAJOR)

# libconnredir-winsock: the Windows way (winsock.h), over libconnredir.
WS_SRCS   := $(wildcard winsock/*.c)
WS_OBJS   := $(WS_SRCS:%.c=$(B)/pic/%.o)
WS_A      := $(B)/libconnredir-winsock.a
WS_SO     := $(B)/libconnredir-winsock.so.$(SONAME_MAJOR)

PARSE_OBJ := $(B)/obj/lib/parse.o

# common/: what the CLI and the proxy share (the JSON writer, the terminal
# escape), linked into both, the unit tests and the fuzzers that need it.
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/obj/%.o)
COMMON_A    := $(B)/libcrdcommon.a

CLI_SRCS  := $(wildcard cli/*.c)
CLI_OBJS  := $(CLI_SRCS:%.c=$(B)/obj/%.o)
CLI       := $(B)/connredir

PROXY_SRCS := $(wildcard proxy/*.c)
PROXY_OBJS := $(PROXY_SRCS:%.c=$(B)/obj/%.o)
PROXY      := $(if $(PROXY_SRCS),$(B)/connredir-proxy)

TOOLS     := $(patsubst tests/tools/%.c,$(B)/tools/%,$(wildcard tests/tools/*.c))
EXAMPLES  := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
UNITS     := $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/test_*.c))
WS_EXAMPLES := $(filter $(B)/examples/wfp-%,$(EXAMPLES))
WS_UNITS  := $(filter $(B)/unit/test_winsock%,$(UNITS))
FUZZERS   := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

SKEL      := $(B)/connredir.skel.h $(B)/crd_iter.skel.h
BPF_OBJ   := $(B)/bpf/connredir.bpf.o

TEST_BPF  := $(B)/tests/foreign.bpf.o

.PHONY: all deps test test-load demo fuzz bench clean check-root \
	run-test run-test-load run-demo run-fuzz
.SECONDARY:
all: $(CLI) $(PROXY) $(COMMON_A) $(LIB_A) $(LIB_SO) $(WS_A) $(WS_SO) $(TOOLS) $(EXAMPLES) $(UNITS) $(TEST_BPF)

# ---- Debian packages -------------------------------------------------------
# Building never installs system packages. A goal that builds first checks
# the build packages (a dpkg query, scripts/install-deps.sh --check --build)
# and stops with the script's name if one is missing. The targets that need
# packages install them through the script, say so, and then do their job in
# a sub-make (so nothing is built before the packages are there).
NEEDS_DEPS := test test-load demo fuzz bench
NO_BUILD   := clean uninstall deps $(NEEDS_DEPS)
ifneq ($(filter-out $(NO_BUILD),$(or $(MAKECMDGOALS),all)),)
BUILD_DEPS_MISSING := $(shell scripts/install-deps.sh --check --build 2>&1)
ifneq ($(BUILD_DEPS_MISSING),)
$(error $(BUILD_DEPS_MISSING): `make` installs nothing; run scripts/install-deps.sh as root to install them)
endif
endif

deps:
	@echo "install-deps: checking Debian packages (scripts/install-deps.sh)"
	$(Q)scripts/install-deps.sh

$(NEEDS_DEPS):
	@echo "install-deps: checking Debian packages for \`make $@' (scripts/install-deps.sh)"
	$(Q)scripts/install-deps.sh
	$(Q)$(MAKE) --no-print-directory run-$@

# ---- BPF -------------------------------------------------------------------

$(B)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/connredir/sockopt.h $(B)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/tests/%.bpf.o: tests/bpf/%.bpf.c $(B)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/%.skel.h: $(B)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst connredir,connredir_bpf,$(subst crd_iter,crd_iter_bpf,$*)) > $@.tmp && mv $@.tmp $@

# ---- library ---------------------------------------------------------------

$(B)/pic/%.o: %.c $(wildcard include/connredir/*.h common/*.h lib/*.h winsock/*.h) bpf/crd_maps.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS) lib/libconnredir.map
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libconnredir.so.$(SONAME_MAJOR) \
		-Wl,--version-script=lib/libconnredir.map -o $@ $(LIB_OBJS)
	$(Q)ln -sf libconnredir.so.$(SONAME_MAJOR) $(B)/libconnredir.so

$(WS_A): $(WS_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Needs libconnredir.so.1 (the native calls under the WFP codes).
$(WS_SO): $(WS_OBJS) winsock/libconnredir-winsock.map $(LIB_SO)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libconnredir-winsock.so.$(SONAME_MAJOR) \
		-Wl,--version-script=winsock/libconnredir-winsock.map -o $@ $(WS_OBJS) \
		-L$(B) -lconnredir
	$(Q)ln -sf libconnredir-winsock.so.$(SONAME_MAJOR) $(B)/libconnredir-winsock.so

# ---- CLI -------------------------------------------------------------------

$(B)/obj/%.o: %.c $(wildcard include/connredir/*.h common/*.h lib/*.h) \
		$(wildcard cli/*.h) $(wildcard proxy/*.h) bpf/crd_maps.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(CLI_OBJS): $(SKEL)

$(COMMON_A): $(COMMON_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(PARSE_OBJ) $(COMMON_A) $(LIB_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BPF)

# ---- proxy -------------------------------------------------------------------

$(PROXY): $(PROXY_OBJS) $(PARSE_OBJ) $(COMMON_A) $(LIB_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# ---- test tools, unit tests, fuzzers ----------------------------------------

$(B)/tools/%: tests/tools/%.c $(LIB_A) $(PARSE_OBJ)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PARSE_OBJ) $(LIB_A) -pthread

# Examples use only the public headers and the libraries; the wfp-* ones
# (and the Winsock unit tests, which also reach its internal header) link
# libconnredir-winsock before libconnredir.
$(WS_EXAMPLES) $(WS_UNITS): $(WS_A)
$(WS_EXAMPLES) $(WS_UNITS): WS_LINK := $(WS_A)
$(WS_UNITS): CFLAGS += -Iwinsock

$(B)/examples/%: examples/%.c $(LIB_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(WS_LINK) $(LIB_A) -pthread

$(B)/unit/%: tests/unit/%.c tests/unit/unit.h $(LIB_A) $(PARSE_OBJ) $(COMMON_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PARSE_OBJ) $(WS_LINK) $(COMMON_A) $(LIB_A) -pthread

FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	      -std=gnu11 -D_GNU_SOURCE -Iinclude -Icommon -Ilib -Ibpf -I$(B)
# (common/ is compiled in, instrumented, instead of linking libcrdcommon.a.)
$(B)/fuzz/%: fuzz/%.c fuzz/fuzz.h lib/parse.c $(LIB_SRCS) $(COMMON_SRCS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -o $@ $< lib/parse.c $(LIB_SRCS) $(COMMON_SRCS)

$(B)/fuzz/fuzz_winsock: fuzz/fuzz_winsock.c fuzz/fuzz.h $(LIB_SRCS) $(WS_SRCS) \
		$(wildcard winsock/*.h)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -Iwinsock -o $@ $< $(LIB_SRCS) $(WS_SRCS)

# The CLI's parsers: only what they need (no BPF, no libbpf, no root).
FUZZ_CLI_DEPS := fuzz/fuzz.h fuzz/fuzz_svc.h cli/cli.h cli/config.h lib/parse.h bpf/crd_maps.h
$(B)/fuzz/fuzz_service: fuzz/fuzz_service.c cli/service_spec.c lib/parse.c $(FUZZ_CLI_DEPS) \
		$(COMMON_SRCS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -Icli -o $@ $< cli/service_spec.c lib/parse.c $(COMMON_SRCS)

$(B)/fuzz/fuzz_config: fuzz/fuzz_config.c cli/config.c cli/service_spec.c lib/parse.c \
		$(FUZZ_CLI_DEPS) $(COMMON_SRCS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(INIH_CFLAGS) -Icli -o $@ $< cli/config.c \
		cli/service_spec.c lib/parse.c $(COMMON_SRCS) $(INIH_LIBS)

# Unit tests and fuzzers of the proxy include its sources.
$(UNITS) $(FUZZERS): $(wildcard proxy/*.c proxy/*.h common/*.h)

run-fuzz: $(FUZZERS)
	$(Q)for f in $(FUZZERS); do \
		n=$$(basename $$f); corpus=fuzz/corpus/$${n#fuzz_}; \
		mkdir -p $(B)/fuzz-work/$$n; \
		echo "  FUZZ     $$n ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
		    -artifact_prefix=$(B)/fuzz-work/$$n- \
		    $(B)/fuzz-work/$$n $$corpus > $(B)/fuzz-work/$$n.log 2>&1 \
		    || { tail -n 30 $(B)/fuzz-work/$$n.log; exit 1; }; \
	done

# ---- running ---------------------------------------------------------------

# The tests find the build under test through CRD_BUILD (tests/lib.sh).
# NO_OPTIONAL=1 exports CONNREDIR_NO_OPTIONAL=1 to every test (connredir(8)).
TEST_ENV := CRD_BUILD=$(B) $(if $(filter 1,$(NO_OPTIONAL)),CONNREDIR_NO_OPTIONAL=1)
run-test: all $(FUZZERS)
	$(Q)$(TEST_ENV) tests/run.sh

# 10,000 concurrent and 100,000 sequential flows through a two-proxy chain,
# then every map, descriptor count and RSS back to idle (tests/load/).
run-test-load: all
	$(Q)$(TEST_ENV) tests/run.sh --load

run-demo: all
	$(Q)demo/demo.sh

clean:
	$(Q)rm -rf $(B)

# Targets kept in their own files: `make install`/`uninstall` and `make bench`.
-include mk/install.mk
-include bench/bench.mk
