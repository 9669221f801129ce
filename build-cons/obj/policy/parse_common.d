build-cons/obj/policy/parse_common.o: policy/parse_common.c common/name.h \
 policy/parse_int.h policy/policy_int.h policy/policy.h common/err.h \
 build-cons/gen/proto/policy.pb-c.h common/hash.h common/yamldoc.h
common/name.h:
policy/parse_int.h:
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
