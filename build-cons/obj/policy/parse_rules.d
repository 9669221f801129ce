build-cons/obj/policy/parse_rules.o: policy/parse_rules.c \
 policy/parse_rules.h policy/parse_int.h policy/policy_int.h \
 policy/policy.h common/err.h build-cons/gen/proto/policy.pb-c.h \
 common/hash.h common/yamldoc.h common/alloc.h
policy/parse_rules.h:
policy/parse_int.h:
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
common/alloc.h:
