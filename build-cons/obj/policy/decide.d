build-cons/obj/policy/decide.o: policy/decide.c policy/decide_int.h \
 policy/view_int.h policy/policy_int.h policy/policy.h common/err.h \
 build-cons/gen/proto/policy.pb-c.h common/hash.h common/yamldoc.h
policy/decide_int.h:
policy/view_int.h:
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
