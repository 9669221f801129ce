build-cons/obj/policy/request_json.o: policy/request_json.c \
 policy/policy_int.h policy/policy.h common/err.h \
 build-cons/gen/proto/policy.pb-c.h common/hash.h common/yamldoc.h \
 policy/request_json.h
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
policy/request_json.h:
