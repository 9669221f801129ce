build-cons/obj/policy/view.o: policy/view.c policy/view_int.h \
 policy/policy_int.h policy/policy.h common/err.h \
 build-cons/gen/proto/policy.pb-c.h common/hash.h common/yamldoc.h \
 common/alloc.h
policy/view_int.h:
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
common/alloc.h:
