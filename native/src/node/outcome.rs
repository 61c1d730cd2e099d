//! Turning what the replica says about a request into the RESP reply its command promises.

use super::command::Shape;
use crate::resp::Reply;
use flotilla_core::kv::Response;
use flotilla_core::replica::Outcome;

/// The reply for a settled request. Error codes: `NOLEADER` (retry: no leader known or this
/// node lost leadership before proposing), `TRYAGAIN` (retry: dropped, had no effect),
/// `UNKNOWN` (may or may not have taken effect), `BUSY` (too many requests pending).
pub fn reply_for(shape: Shape, outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Done(response) => shape_response(shape, response),
        Outcome::NotLeader {
            leader: Some(leader),
        } => Reply::Error(format!(
            "NOLEADER not the leader; the leader is {leader}, retry"
        )),
        Outcome::NotLeader { leader: None } => not_leader(),
        Outcome::Dropped => Reply::Error("TRYAGAIN the request had no effect; retry".into()),
        Outcome::Unknown => {
            Reply::Error("UNKNOWN leadership changed; the write may or may not have applied".into())
        }
        Outcome::Busy => Reply::Error("BUSY too many requests pending; retry later".into()),
        Outcome::Invalid(error) => Reply::err(error),
    }
}

/// The answer while no leader is known.
pub fn not_leader() -> Reply {
    Reply::Error("NOLEADER no leader is known (election in progress); retry".into())
}

fn shape_response(shape: Shape, response: Response) -> Reply {
    match (shape, response) {
        (_, Response::Error(error)) => Reply::err(error),
        (Shape::Value, Response::Value(value)) => Reply::Bulk(value),
        (Shape::Values, Response::Values(values)) => {
            Reply::Array(Some(values.into_iter().map(Reply::Bulk).collect()))
        }
        (Shape::CountPresent, Response::Values(values)) => {
            Reply::Integer(values.iter().filter(|v| v.is_some()).count() as i64)
        }
        (Shape::Ok, Response::Ok) => Reply::ok(),
        (Shape::Removed, Response::Count(n)) => Reply::Integer(n as i64),
        (Shape::Removed, Response::Deleted(removed)) => Reply::Integer(i64::from(removed)),
        (Shape::Integer, Response::Integer(n)) => Reply::Integer(n),
        (shape, response) => Reply::err(format!(
            "internal: response {response:?} does not fit {shape:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let values = Response::Values(vec![Some(b"a".to_vec()), None]);
        assert_eq!(
            reply_for(Shape::CountPresent, Outcome::Done(values.clone())),
            Reply::Integer(1)
        );
        assert_eq!(
            reply_for(Shape::Values, Outcome::Done(values)),
            Reply::Array(Some(vec![Reply::bulk("a"), Reply::Bulk(None)]))
        );
        assert_eq!(
            reply_for(Shape::Removed, Outcome::Done(Response::Count(2))),
            Reply::Integer(2)
        );
        assert!(reply_for(Shape::Ok, Outcome::Unknown).is_error());
    }
}
