build-cons/obj/policy/validate.o: policy/validate.c policy/policy_int.h \
 policy/policy.h common/err.h build-cons/gen/proto/policy.pb-c.h \
 common/hash.h common/yamldoc.h
policy/policy_int.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/policy.pb-c.h:
common/hash.h:
common/yamldoc.h:
