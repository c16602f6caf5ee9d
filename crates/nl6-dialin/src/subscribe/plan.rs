//! Validating a `SubscriptionList` and compiling it into what the producers run.

use std::time::Duration;

use nl6_gnmi::Excerpt;
use nl6_gnmi::proto::gnmi::{Path, SubscriptionList, SubscriptionMode, subscription_list};

use nl6_resolver::{LeafSet, ResolveError, Schema, Selection, ValueEncoding};
use tonic::Status;

use crate::config::MAX_ON_CHANGE_PER_STREAM;
use crate::limits::{MAX_SUBSCRIPTIONS_PER_REQUEST, RequestLimitError, check_target};

/// Counter sample interval of TARGET_DEFINED subscriptions that give none.
const TARGET_DEFINED_SAMPLE: Duration = Duration::from_secs(10);

/// Longest interval honoured; longer ones are capped (keeps timer arithmetic in range).
const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// What makes a STREAM subscription send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// Every `interval`; with `suppress_redundant` only changed leaves, plus a full
    /// update every `heartbeat`.
    Sample {
        interval: Duration,
        suppress_redundant: bool,
        heartbeat: Option<Duration>,
    },
    /// On interface-state events; everything again every `heartbeat`.
    OnChange { heartbeat: Option<Duration> },
}

/// One STREAM subscription (a TARGET_DEFINED path becomes one of each kind).
#[derive(Clone, Debug)]
pub(crate) struct StreamSub {
    pub(crate) selection: Selection,
    pub(crate) trigger: Trigger,
}

/// The mode of the list and what it selects.
#[derive(Debug)]
pub(crate) enum Mode {
    /// Everything once, sync, close.
    Once(Selection),
    /// Everything on every poll.
    Poll(Selection),
    /// Long-lived subscriptions.
    Stream(Vec<StreamSub>),
}

/// A validated `SubscriptionList`.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) mode: Mode,
    pub(crate) encoding: ValueEncoding,
    /// The prefix's target, echoed in every response prefix.
    pub(crate) target: Option<String>,
    pub(crate) updates_only: bool,
}

impl Plan {
    /// Validates `list` for a device serving `schema`; `min_interval` is the SAMPLE floor.
    pub(crate) fn compile(
        list: &SubscriptionList,
        schema: Schema<'_>,
        min_interval: Duration,
    ) -> Result<Plan, Status> {
        let names = schema.names;
        let mode = subscription_list::Mode::try_from(list.mode).map_err(|_| {
            Status::invalid_argument(format!(
                "SubscriptionList.mode {} is not STREAM, ONCE or POLL",
                list.mode
            ))
        })?;
        let encoding = ValueEncoding::from_gnmi(list.encoding)?;
        if list.subscription.is_empty() {
            return Err(Status::invalid_argument(
                "SubscriptionList.subscription is empty: at least one Subscription is required",
            ));
        }
        if list.subscription.len() > MAX_SUBSCRIPTIONS_PER_REQUEST {
            return Err(RequestLimitError::TooManySubscriptions {
                actual: list.subscription.len(),
                limit: MAX_SUBSCRIPTIONS_PER_REQUEST,
            }
            .into());
        }
        let prefix = list.prefix.as_ref();
        if let Some(prefix) = prefix {
            check_target(&prefix.target)?;
        }
        let compiled = list
            .subscription
            .iter()
            .map(|s| compile_path(prefix, s.path.as_ref().unwrap_or(&Path::default()), schema))
            .collect::<Result<Vec<_>, _>>()?;
        let union = || {
            compiled
                .iter()
                .fold(Selection::empty(names.len()), |acc, (s, _)| acc.union(s))
        };
        let mode = match mode {
            subscription_list::Mode::Once => Mode::Once(union()),
            subscription_list::Mode::Poll => Mode::Poll(union()),
            subscription_list::Mode::Stream => {
                let mut subs = Vec::new();
                for (sub, (selection, shape)) in list.subscription.iter().zip(compiled) {
                    let text = || {
                        let path = sub.path.clone().unwrap_or_default();
                        Excerpt::new(&nl6_gnmi::format_path(&nl6_gnmi::path::join(prefix, &path)))
                    };
                    stream_subs(sub, selection, shape, min_interval, text, &mut subs)?;
                }
                let on_change = subs
                    .iter()
                    .filter(|s| matches!(s.trigger, Trigger::OnChange { .. }))
                    .count();
                if on_change > MAX_ON_CHANGE_PER_STREAM {
                    return Err(Status::resource_exhausted(format!(
                        "{on_change} ON_CHANGE subscriptions in one stream; at most \
                         {MAX_ON_CHANGE_PER_STREAM} are allowed (open another Subscribe RPC)"
                    )));
                }
                Mode::Stream(subs)
            }
        };
        Ok(Plan {
            mode,
            encoding,
            target: prefix.map(|p| p.target.clone()).filter(|t| !t.is_empty()),
            updates_only: list.updates_only,
        })
    }
}

/// Compiles one subscription path into its selection and its shape (the leaves the path
/// covers on any interface, for classifying it).
///
/// A path naming an interface the device does not have selects nothing instead of
/// failing: the gNMI specification (3.5.1.3) requires accepting paths that do not exist
/// yet. Paths outside the served schema (other origins, `config/`, unknown leaves) are
/// NOT_FOUND and an empty interface name is INVALID_ARGUMENT.
fn compile_path(
    prefix: Option<&Path>,
    path: &Path,
    schema: Schema<'_>,
) -> Result<(Selection, LeafSet), Status> {
    let names = schema.names;
    match Selection::compile_one(prefix, path, schema) {
        Ok(selection) => {
            let shape = selection.leaf_union();
            Ok((selection, shape))
        }
        Err(ResolveError::NoSuchInterface { .. }) => {
            let any_prefix = prefix.map(any_interface);
            let shape = Selection::compile_one(any_prefix.as_ref(), &any_interface(path), names)
                .map(|s| s.leaf_union())?;
            Ok((Selection::empty(names.len()), shape))
        }
        Err(e) => Err(e.into()),
    }
}

/// `path` with every `name` key replaced by `*`.
fn any_interface(path: &Path) -> Path {
    let mut path = path.clone();
    for elem in &mut path.elem {
        if let Some(value) = elem.key.get_mut("name") {
            *value = "*".to_string();
        }
    }
    path
}

/// Validates one STREAM `Subscription` and appends what it runs as.
fn stream_subs(
    sub: &nl6_gnmi::proto::gnmi::Subscription,
    selection: Selection,
    shape: LeafSet,
    min_interval: Duration,
    text: impl Fn() -> Excerpt,
    out: &mut Vec<StreamSub>,
) -> Result<(), Status> {
    let mode = SubscriptionMode::try_from(sub.mode).map_err(|_| {
        Status::invalid_argument(format!(
            "Subscription.mode {} for path {} is not TARGET_DEFINED, ON_CHANGE or SAMPLE",
            sub.mode,
            text()
        ))
    })?;
    let heartbeat = match sub.heartbeat_interval {
        0 => None,
        ns => Some(interval("heartbeat_interval", ns, min_interval, &text)?),
    };
    let sample = |default: Duration| match sub.sample_interval {
        0 => Ok(default),
        ns => interval("sample_interval", ns, min_interval, &text),
    };
    let non_counters = LeafSet::ALL.without(LeafSet::COUNTERS);
    let sampled = |selection: Selection, interval: Duration| StreamSub {
        selection,
        trigger: Trigger::Sample {
            interval,
            suppress_redundant: sub.suppress_redundant,
            heartbeat: heartbeat.filter(|_| sub.suppress_redundant),
        },
    };
    match mode {
        SubscriptionMode::Sample => out.push(sampled(selection, sample(min_interval)?)),
        SubscriptionMode::OnChange => {
            let counters = shape.intersect(LeafSet::COUNTERS);
            if let Some(leaf) = counters.iter().next()
                && shape.intersect(non_counters).is_empty()
            {
                return Err(Status::invalid_argument(format!(
                    "path {} selects counter leaf {} under ON_CHANGE: counters change \
                     continuously and never fire on-change; use SAMPLE",
                    text(),
                    leaf.name()
                )));
            }
            let on_change = selection.restrict(non_counters);
            if on_change.is_empty() && selection.extras_only_sampled() {
                return Err(Status::invalid_argument(format!(
                    "path {} selects only sampled leaves (temperatures, utilisation, \
                     memory in use, prefix counts) under ON_CHANGE: they change continuously and never \
                     fire on-change; use SAMPLE",
                    text()
                )));
            }
            out.push(StreamSub {
                selection: on_change,
                trigger: Trigger::OnChange { heartbeat },
            });
        }
        SubscriptionMode::TargetDefined => {
            let on_change = selection.restrict(non_counters);
            if !shape.intersect(non_counters).is_empty() || !on_change.extras().is_empty() {
                out.push(StreamSub {
                    selection: on_change,
                    trigger: Trigger::OnChange { heartbeat },
                });
            }
            let counters = selection.restrict(LeafSet::COUNTERS);
            if !shape.intersect(LeafSet::COUNTERS).is_empty() || !counters.extras().is_empty() {
                let interval = sample(TARGET_DEFINED_SAMPLE.max(min_interval))?;
                out.push(sampled(counters, interval));
            }
        }
    }
    Ok(())
}

/// Validates an interval in ns against the floor.
fn interval(
    field: &str,
    ns: u64,
    min: Duration,
    text: &impl Fn() -> Excerpt,
) -> Result<Duration, Status> {
    let value = Duration::from_nanos(ns);
    if value < min {
        return Err(Status::invalid_argument(format!(
            "{field} {value:?} for path {} is shorter than the {min:?} this target supports \
             (0 means the fastest supported)",
            text()
        )));
    }
    Ok(value.min(MAX_INTERVAL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_gnmi::parse_path;
    use nl6_gnmi::proto::gnmi::{Encoding, Subscription};
    use nl6_ifstate::InterfaceNames;

    fn sub(path: &str, mode: SubscriptionMode, sample_ms: u64) -> Subscription {
        Subscription {
            path: Some(parse_path(path).unwrap()),
            mode: mode as i32,
            sample_interval: sample_ms * 1_000_000,
            ..Default::default()
        }
    }

    fn stream(subs: Vec<Subscription>) -> SubscriptionList {
        SubscriptionList {
            subscription: subs,
            encoding: Encoding::Proto as i32,
            ..Default::default()
        }
    }

    fn compile(list: &SubscriptionList) -> Result<Plan, Status> {
        Plan::compile(
            list,
            (&InterfaceNames::for_count(4)).into(),
            Duration::from_secs(1),
        )
    }

    fn stream_subs_of(plan: Plan) -> Vec<StreamSub> {
        match plan.mode {
            Mode::Stream(subs) => subs,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn on_change_filters_counters_of_containers_and_rejects_counter_paths() {
        let plan = compile(&stream(vec![sub(
            "/interfaces/interface/state",
            SubscriptionMode::OnChange,
            0,
        )]))
        .unwrap();
        let subs = stream_subs_of(plan);
        assert_eq!(subs.len(), 1);
        assert_eq!(
            subs[0].selection.leaf_union(),
            LeafSet::STATIC.union(LeafSet::ON_CHANGE)
        );
        for path in [
            "/interfaces/interface/state/counters",
            "/interfaces/interface[name=Ethernet1]/state/counters/in-octets",
            "/interfaces/interface[name=Ethernet99]/state/counters/in-errors",
        ] {
            let err = compile(&stream(vec![sub(path, SubscriptionMode::OnChange, 0)])).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{path}");
            assert!(err.message().contains("use SAMPLE"), "{}", err.message());
        }
    }

    #[test]
    fn target_defined_splits_by_leaf_class() {
        let subs = stream_subs_of(
            compile(&stream(vec![sub(
                "/interfaces",
                SubscriptionMode::TargetDefined,
                0,
            )]))
            .unwrap(),
        );
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].trigger, Trigger::OnChange { heartbeat: None });
        assert_eq!(
            subs[1].trigger,
            Trigger::Sample {
                interval: Duration::from_secs(10),
                suppress_redundant: false,
                heartbeat: None
            }
        );
        assert_eq!(subs[1].selection.leaf_union(), LeafSet::COUNTERS);
    }

    #[test]
    fn request_limits_name_the_limit() {
        let one = || sub("/interfaces", SubscriptionMode::Sample, 0);
        compile(&stream(vec![one(); MAX_SUBSCRIPTIONS_PER_REQUEST])).unwrap();
        let err = compile(&stream(vec![one(); MAX_SUBSCRIPTIONS_PER_REQUEST + 1])).unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            err.message(),
            "SubscriptionList.subscription has 1001 subscriptions; the limit is 1000 \
             subscriptions per SubscribeRequest"
        );
        let mut list = stream(vec![one()]);
        list.prefix = Some(Path {
            target: "t".repeat(crate::MAX_TARGET_BYTES + 1),
            ..Default::default()
        });
        let err = compile(&list).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().contains("prefix.target is 257 bytes"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn echoed_paths_are_bounded_excerpts() {
        // Within every path limit, yet ~10 KB of text: the message quotes 200 bytes.
        let long = format!("/interfaces/interface[name=*]/state/{}", "x".repeat(200));
        let mut path = parse_path(&long).unwrap();
        for _ in 0..40 {
            path.elem.push(path.elem[3].clone());
        }
        let err = compile(&stream(vec![Subscription {
            path: Some(path),
            ..sub("/interfaces", SubscriptionMode::Sample, 0)
        }]))
        .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        assert!(err.message().len() < 1024, "{}", err.message());
        assert!(err.message().contains(" bytes)"), "{}", err.message());
        // A missing interface is accepted; the bad mode's message quotes its path cut.
        let missing = format!("/interfaces/interface[name={}]", "e".repeat(1000));
        let mut bad_mode = sub(&missing, SubscriptionMode::Sample, 0);
        bad_mode.mode = 7;
        let err = compile(&stream(vec![bad_mode])).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message()
                .starts_with("Subscription.mode 7 for path \"/interfaces/interface[name=eee"),
            "{}",
            err.message()
        );
        assert!(err.message().len() < 512, "{}", err.message());
    }

    #[test]
    fn intervals_limits_and_missing_interfaces() {
        let err = compile(&stream(vec![sub(
            "/interfaces",
            SubscriptionMode::Sample,
            500,
        )]))
        .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().contains("sample_interval"),
            "{}",
            err.message()
        );
        let subs = stream_subs_of(
            compile(&stream(vec![sub(
                "/interfaces",
                SubscriptionMode::Sample,
                0,
            )]))
            .unwrap(),
        );
        assert!(
            matches!(subs[0].trigger, Trigger::Sample { interval, .. } if interval == Duration::from_secs(1))
        );
        let many = (0..65)
            .map(|_| {
                sub(
                    "/interfaces/interface/state/oper-status",
                    SubscriptionMode::OnChange,
                    0,
                )
            })
            .collect();
        assert_eq!(
            compile(&stream(many)).unwrap_err().code(),
            tonic::Code::ResourceExhausted
        );
        let missing = stream_subs_of(
            compile(&stream(vec![sub(
                "/interfaces/interface[name=Ethernet9]",
                SubscriptionMode::Sample,
                0,
            )]))
            .unwrap(),
        );
        assert!(missing[0].selection.is_empty());
        let code = |list| compile(&list).unwrap_err().code();
        assert_eq!(code(stream(vec![])), tonic::Code::InvalidArgument);
        assert_eq!(
            code(stream(vec![sub("/system", SubscriptionMode::Sample, 0)])),
            tonic::Code::NotFound
        );
        let mut ascii = stream(vec![sub("/interfaces", SubscriptionMode::Sample, 0)]);
        ascii.encoding = Encoding::Ascii as i32;
        assert_eq!(code(ascii), tonic::Code::Unimplemented);
    }
}
