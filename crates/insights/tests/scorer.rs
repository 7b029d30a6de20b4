//! NAB scorer on hand-made files with known results.

use frontdesk_insights::nab::{probation_rows, scaled_sigmoid, score_corpus, score_file, ScoredFile, PROFILES};

/// A file of `n` rows with the given windows and detections (score 1) at `hits`.
fn file(name: &str, n: usize, windows: &[(usize, usize)], hits: &[usize]) -> ScoredFile {
    let mut scores = vec![0.0; n];
    for &h in hits {
        scores[h] = 1.0;
    }
    ScoredFile { name: name.into(), scores, windows: windows.to_vec() }
}

fn corpus(hits: impl Fn(&[(usize, usize)]) -> Vec<usize>) -> Vec<ScoredFile> {
    let specs: [(usize, Vec<(usize, usize)>); 3] =
        [(4000, vec![(1000, 1199), (3000, 3199)]), (1200, vec![(500, 559)]), (4000, vec![])];
    specs.iter().enumerate().map(|(i, (n, w))| file(&format!("f{i}.csv"), *n, w, &hits(w))).collect()
}

#[test]
fn sigmoid_and_probation_follow_the_rules() {
    assert_eq!(scaled_sigmoid(0.0), 0.0);
    assert_eq!(scaled_sigmoid(3.5), -1.0);
    assert!((scaled_sigmoid(-1.0) - 0.986_614).abs() < 1e-5);
    assert_eq!(probation_rows(1000), 150);
    assert_eq!(probation_rows(22_695), 750);
}

#[test]
fn perfect_detector_scores_100() {
    let files = corpus(|w| w.iter().map(|&(l, _)| l).collect());
    for p in score_corpus(&files) {
        assert!((p.normalized - 100.0).abs() < 1e-9, "{}: {}", p.profile, p.normalized);
        assert_eq!(p.threshold, 1.0);
    }
}

#[test]
fn null_detector_scores_0() {
    let files = corpus(|_| vec![]);
    for p in score_corpus(&files) {
        assert!(p.normalized.abs() < 1e-9, "{}: {}", p.profile, p.normalized);
        assert!(p.threshold.is_infinite());
    }
}

#[test]
fn detections_far_from_windows_score_below_0() {
    let files = corpus(|w| {
        // Before the first window (after probation), or anywhere in a file without windows.
        w.first().map_or(vec![800, 2000], |&(l, _)| vec![l - 300])
    });
    let profile = &PROFILES[0];
    let windows: usize = files.iter().map(|f| f.windows.len()).sum();
    let raw: f64 = files.iter().map(|f| score_file(f, profile, 0.5).raw).sum();
    let null = -(windows as f64) * profile.fn_;
    let normalized = 100.0 * (raw - null) / (windows as f64 * profile.tp - null);
    assert!(normalized < 0.0, "{normalized}");
    // With a free threshold the best choice is to never fire.
    assert!(score_corpus(&files)[0].normalized.abs() < 1e-9);
}

#[test]
fn only_the_earliest_detection_of_a_window_counts() {
    let late = file("a", 1000, &[(400, 499)], &[480]);
    let both = file("a", 1000, &[(400, 499)], &[420, 480, 490]);
    let p = &PROFILES[0];
    let (late, both) = (score_file(&late, p, 0.5), score_file(&both, p, 0.5));
    assert!(both.raw > late.raw);
    assert_eq!((both.tp, both.fp, both.fn_), (1, 0, 0));
    let expected = scaled_sigmoid(-80.0 / 100.0) / scaled_sigmoid(-1.0);
    assert!((both.raw - expected).abs() < 1e-12);
}

#[test]
fn false_positives_are_weighted_by_distance_to_the_previous_window() {
    let p = &PROFILES[0];
    let before = score_file(&file("a", 1000, &[(400, 499)], &[300]), p, 0.5);
    let just_after = score_file(&file("a", 1000, &[(400, 499)], &[500]), p, 0.5);
    let far_after = score_file(&file("a", 1000, &[(400, 499)], &[900]), p, 0.5);
    assert!((before.raw - (-1.0 - 0.11)).abs() < 1e-12);
    let near = -1.0 + 0.11 * scaled_sigmoid(1.0 / 99.0);
    assert!((just_after.raw - near).abs() < 1e-12);
    assert!((far_after.raw - (-1.0 - 0.11)).abs() < 1e-12);
}

#[test]
fn threshold_search_maximises_the_summed_score() {
    // Window credit at 0.8, a false positive at 0.9, and many false positives at 0.3.
    let mut scores = vec![0.0; 2000];
    scores[1000] = 0.8; // left edge of the window
    scores[400] = 0.9;
    for i in (1500..2000).step_by(10) {
        scores[i] = 0.3;
    }
    let files = vec![ScoredFile { name: "t".into(), scores, windows: vec![(1000, 1099)] }];
    let standard = &score_corpus(&files)[0];
    assert_eq!(standard.threshold, 0.8);
    assert!((standard.raw - (1.0 - 0.11)).abs() < 1e-12);
    assert!((standard.normalized - 100.0 * (1.89 / 2.0)).abs() < 1e-9);
}

#[test]
fn probation_rows_are_not_scored() {
    // 1000 rows: probation is 150. A detection at row 120 inside a window there is ignored,
    // and so is a false positive at row 10.
    let f = file("p", 1000, &[(100, 199)], &[10, 120]);
    let c = score_file(&f, &PROFILES[0], 0.5);
    assert_eq!((c.tp, c.fn_, c.fp), (0, 1, 0));
    let f = file("p", 1000, &[(100, 199)], &[10, 160]);
    let c = score_file(&f, &PROFILES[0], 0.5);
    assert_eq!((c.tp, c.fn_, c.fp), (1, 0, 0));
}

#[test]
fn firing_once_right_after_probation_scores_below_0() {
    // One detection at the first scored row of every file and nowhere else: a false positive
    // at full cost in each file (none of these windows starts at the probation boundary).
    let files = corpus(|_| vec![]);
    let files: Vec<ScoredFile> = files
        .into_iter()
        .map(|mut f| {
            let first = probation_rows(f.scores.len());
            f.scores[first] = 1.0;
            f
        })
        .collect();
    for profile in &PROFILES {
        let raw: f64 = files.iter().map(|f| score_file(f, profile, 1.0).raw).sum();
        let windows: usize = files.iter().map(|f| f.windows.len()).sum();
        let null = -(windows as f64) * profile.fn_;
        let expected = null - profile.fp * files.len() as f64;
        assert!((raw - expected).abs() < 1e-12, "{}: {raw}", profile.name);
    }
    // NAB's threshold search also considers never firing (its sweep starts above every score),
    // so with a free threshold such a detector scores exactly 0, never above.
    for p in score_corpus(&files) {
        assert!(p.normalized.abs() < 1e-9, "{}: {}", p.profile, p.normalized);
    }
}
