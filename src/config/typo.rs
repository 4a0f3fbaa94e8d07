//! Suggestions for mistyped keys: the known name nearest to an unknown one.

pub(super) fn nearest<'a>(
    typo: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    // Keeps the quadratic distance cheap when a file holds a huge garbage key.
    if typo.len() > 100 {
        return None;
    }
    let typo = typo.to_ascii_lowercase();
    let limit = 1 + typo.chars().count() / 5;
    candidates
        .map(|candidate| (edit_distance(&typo, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // dist[i][j]: the distance between the first i chars of a and the first j of b.
    let mut dist = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in dist.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in dist[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (dist[i - 1][j] + 1)
                .min(dist[i][j - 1] + 1)
                .min(dist[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(dist[i - 2][j - 2] + 1);
            }
            dist[i][j] = best;
        }
    }
    dist[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("ha.prot", "ha.port"), 1);
        assert_eq!(edit_distance("ha.por", "ha.port"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }
}
