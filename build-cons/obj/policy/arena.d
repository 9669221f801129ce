build-cons/obj/policy/arena.o: policy/arena.c policy/policy_int.h \
 policy/policy.h common/err.h build-cons/gen/proto/policy.pb-c.h \
 common/hash.h common/yamldoc.h common/alloc.h
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
common/alloc.h:
