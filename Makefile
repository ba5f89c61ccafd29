# connredir - top-level Makefile. Everything generated goes to build/
# (build/san/ with SANITIZE=1).
#
#   make            build everything
#   make test       install what is missing, build, run every test (root)
#   make test NO_OPTIONAL=1  the same with the optional kernel features
#                   forced off (CONNREDIR_NO_OPTIONAL=1), as on a kernel
#                   that refuses BPF iterators; .ci/run runs both
#   make test-load  the load tests, tests/load/*.sh (root, about 3 minutes)
#   make demo       the main job on a built-in example (root)
#   make fuzz       run every fuzz target for FUZZ_SECONDS each
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
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -Ilib -Ibpf -I$(B) \
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

PARSE_OBJ := $(B)/obj/lib/parse.o

CLI_SRCS  := $(wildcard cli/*.c)
CLI_OBJS  := $(CLI_SRCS:%.c=$(B)/obj/%.o)
CLI       := $(B)/connredir

PROXY_SRCS := $(wildcard proxy/*.c)
PROXY_OBJS := $(PROXY_SRCS:%.c=$(B)/obj/%.o)
PROXY      := $(if $(PROXY_SRCS),$(B)/connredir-proxy)

TOOLS     := $(patsubst tests/tools/%.c,$(B)/tools/%,$(wildcard tests/tools/*.c))
EXAMPLES  := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
UNITS     := $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/test_*.c))
FUZZERS   := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

SKEL      := $(B)/connredir.skel.h $(B)/crd_iter.skel.h
BPF_OBJ   := $(B)/bpf/connredir.bpf.o

TEST_BPF  := $(B)/tests/foreign.bpf.o

.PHONY: all deps test test-load demo fuzz clean check-root
.SECONDARY:
all: deps $(CLI) $(PROXY) $(LIB_A) $(LIB_SO) $(TOOLS) $(EXAMPLES) $(UNITS) $(TEST_BPF)

deps:
	$(Q)scripts/install-deps.sh

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

$(B)/pic/%.o: %.c $(wildcard include/connredir/*.h) bpf/crd_maps.h
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

# ---- CLI -------------------------------------------------------------------

$(B)/obj/%.o: %.c $(wildcard include/connredir/*.h) $(wildcard lib/*.h) \
		$(wildcard cli/*.h) $(wildcard proxy/*.h) bpf/crd_maps.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(CLI_OBJS): $(SKEL)

$(CLI): $(CLI_OBJS) $(PARSE_OBJ) $(LIB_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BPF)

# ---- proxy -------------------------------------------------------------------

$(PROXY): $(PROXY_OBJS) $(PARSE_OBJ) $(LIB_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# ---- test tools, unit tests, fuzzers ----------------------------------------

$(B)/tools/%: tests/tools/%.c $(LIB_A) $(PARSE_OBJ)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PARSE_OBJ) $(LIB_A) -pthread

# Examples use only the public headers and the library.
$(B)/examples/%: examples/%.c $(LIB_A)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) -pthread

$(B)/unit/%: tests/unit/%.c tests/unit/unit.h $(LIB_A) $(PARSE_OBJ)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PARSE_OBJ) $(LIB_A) -pthread

FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	      -std=gnu11 -D_GNU_SOURCE -Iinclude -Ilib -Ibpf -I$(B)
$(B)/fuzz/%: fuzz/%.c fuzz/fuzz.h lib/parse.c $(LIB_SRCS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -o $@ $< lib/parse.c $(LIB_SRCS)

# The CLI's parsers: only what they need (no BPF, no libbpf, no root).
FUZZ_CLI_DEPS := fuzz/fuzz.h fuzz/fuzz_svc.h cli/cli.h cli/config.h lib/parse.h bpf/crd_maps.h
$(B)/fuzz/fuzz_service: fuzz/fuzz_service.c cli/service_spec.c lib/parse.c $(FUZZ_CLI_DEPS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -Icli -o $@ $< cli/service_spec.c lib/parse.c

$(B)/fuzz/fuzz_config: fuzz/fuzz_config.c cli/config.c cli/service_spec.c lib/parse.c \
		$(FUZZ_CLI_DEPS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(INIH_CFLAGS) -Icli -o $@ $< cli/config.c \
		cli/service_spec.c lib/parse.c $(INIH_LIBS)

# Unit tests and fuzzers of the proxy include its sources.
$(UNITS) $(FUZZERS): $(wildcard proxy/*.c proxy/*.h)

fuzz: deps $(FUZZERS)
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
test: all $(FUZZERS)
	$(Q)$(TEST_ENV) tests/run.sh

# 10,000 concurrent and 100,000 sequential flows through a two-proxy chain,
# then every map, descriptor count and RSS back to idle (tests/load/).
test-load: all
	$(Q)$(TEST_ENV) tests/run.sh --load

demo: all
	$(Q)demo/demo.sh

clean:
	$(Q)rm -rf $(B)

# Targets kept in their own files: `make install`/`uninstall` and `make bench`.
-include mk/install.mk
-include bench/bench.mk
