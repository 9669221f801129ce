build-cons/obj/routerd/budget.o: routerd/budget.c routerd/budget.h \
 policy/policy.h common/err.h build-cons/gen/proto/af.pb-c.h \
 common/alloc.h common/timeutil.h
routerd/budget.h:
policy/policy.h:
common/err.h:
build-cons/gen/proto/af.pb-c.h:
common/alloc.h:
common/timeutil.h:
