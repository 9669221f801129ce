build-cons/obj/policy/parse_bundle.o: policy/parse_bundle.c \
 policy/parse_int.h policy/policy_int.h policy/policy.h common/err.h \
 build-cons/gen/proto/policy.pb-c.h common/hash.h common/yamldoc.h \
 policy/parse_rules.h
policy/parse_int.h:
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
policy/parse_rules.h:
